//! Slack's `users.info` as the workflow's `Directory`: a person's e-mail, for mapping them to
//! a Kubernetes user (`[identity].from_slack_email`; the bot needs `users:read.email`).

use futures::future::BoxFuture;
use slack_morphism::prelude::*;

use super::web::SlackWeb;
use crate::names::SlackUserId;
use crate::workflow::identity::{Directory, DirectoryError};

impl Directory for SlackWeb {
    fn email<'a>(
        &'a self,
        user: &'a SlackUserId,
    ) -> BoxFuture<'a, Result<Option<String>, DirectoryError>> {
        Box::pin(async move {
            let request = SlackApiUsersInfoRequest::new(user.as_str().into());
            let found = match self.users_info(&request).await {
                Ok(found) => found,
                // Slack does not know them: nobody, not an outage.
                Err(super::web::PostError::Refused(code)) if code == "user_not_found" => {
                    return Ok(None);
                }
                Err(e) => return Err(DirectoryError(e.to_string())),
            };
            // A deactivated account is nobody, whatever its profile still says.
            if found.user.deleted == Some(true) {
                return Ok(None);
            }
            Ok(found
                .user
                .profile
                .and_then(|p| p.email)
                .map(|e| e.0)
                .filter(|e| !e.is_empty()))
        })
    }
}
