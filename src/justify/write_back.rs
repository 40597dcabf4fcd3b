//! Write-back: the outbox's PagerDuty notes and Jira comments, delivered with these clients.
//! A retry looks for the item's marker (its audit correlation id) among the incident's notes
//! or the comments first, so an attempt that worked although it failed is not repeated.

use futures::future::BoxFuture;

use super::LiveJustifier;
use super::http::FetchError;
use crate::outbox::{Deliver, Delivered, DeliveryError, Item, Kind};

impl Deliver for LiveJustifier {
    fn delivers(&self, kind: Kind) -> bool {
        match kind {
            Kind::PagerDutyNote => self.pagerduty.is_some(),
            Kind::JiraComment => self.jira.is_some(),
            Kind::SlackAnnounce => false,
        }
    }

    fn deliver<'a>(
        &'a self,
        kind: Kind,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let retry = item.attempts > 0;
            let text = item.notice().plain_text();
            let result = match (kind, &self.pagerduty, &self.jira) {
                (Kind::PagerDutyNote, Some(pd), _) => {
                    if retry && posted_before(pd.notes(&item.target).await, item)? {
                        return Ok(Delivered::FoundPosted);
                    }
                    pd.add_note(&item.target, &text).await
                }
                (Kind::JiraComment, _, Some(jira)) => {
                    if retry && posted_before(jira.comments(&item.target).await, item)? {
                        return Ok(Delivered::FoundPosted);
                    }
                    jira.add_comment(&item.target, &text).await
                }
                _ => return Err(DeliveryError::NoClient(kind.as_str().into())),
            };
            result.map(|()| Delivered::Posted).map_err(delivery_error)
        })
    }
}

/// After an earlier attempt: whether the item is already there (its marker among the texts).
fn posted_before(
    texts: Result<Vec<String>, FetchError>,
    item: &Item,
) -> Result<bool, DeliveryError> {
    let texts = texts.map_err(delivery_error)?;
    Ok(texts.iter().any(|t| t.contains(&item.marker)))
}

fn delivery_error(e: FetchError) -> DeliveryError {
    match e {
        FetchError::RateLimited => DeliveryError::RateLimited,
        other => DeliveryError::Failed(other.to_string()),
    }
}
