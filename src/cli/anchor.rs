//! `pitcrew audit anchor`: have the chain head stamped by the timestamp authority now (what
//! `serve` does every `[audit.timestamp] every`), e.g. right before exporting evidence, or
//! where no `serve` runs.

use super::*;

pub(super) async fn audit_anchor(trail: &TrailArg) -> Result<ExitCode> {
    let config = super::audit::trail_config(trail).ok_or_else(|| {
            Error::Usage(
                "say which configuration names the timestamp authority: --config FILE ([audit.timestamp])".into(),
            )
        })?;
    let config = Config::load_for_tools(&config, &config::process_env)?;
    let Some(ts) = &config.audit.timestamp else {
        return Err(Error::Usage(format!(
            "{} has no [audit.timestamp] section: add url and ca_file (docs/audit.md)",
            config.source.display()
        )));
    };
    let roots = crate::audit::timestamp::Roots::from_pem_file(&ts.ca_file).map_err(Error::Usage)?;
    let tsa = crate::audit::anchors::Tsa::new(ts.url.clone()).map_err(Error::Usage)?;
    let store = audit_store(&trail_database(trail)?, false).await?;
    match crate::audit::anchors::anchor_once(&store, &tsa, &roots).await {
        Ok(Some(a)) => {
            println!(
                "anchored: event {} (hash {}) stamped at {} by {}",
                a.event_id, a.head_hash, a.gen_time, a.tsa
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => {
            match store.last_anchor().await? {
                Some(a) => println!(
                    "nothing new to anchor: the head, event {}, was stamped at {} by {}",
                    a.event_id, a.gen_time, a.tsa
                ),
                None => println!("nothing to anchor: the trail is empty"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("not anchored: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
