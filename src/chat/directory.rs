//! Slack's `users.info` and `usergroups.users.list` as the workflow's `Directory`: a person's
//! e-mail, for mapping them to a Kubernetes user (`[identity].from_slack_email`) and to
//! PagerDuty (on-call approver rules; the bot needs `users:read.email`), and user group
//! membership (approver rules' `slack_groups`; `usergroups:read`).

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

    fn in_group<'a>(
        &'a self,
        user: &'a SlackUserId,
        group: &'a str,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let request = SlackApiUserGroupsUsersListRequest::new(group.into());
            match self.usergroup_members(&request).await {
                Ok(found) => Ok(found.users.iter().any(|u| u.0 == user.as_str())),
                // An unknown or removed group has no members: nobody is in it.
                Err(super::web::PostError::Refused(code)) if code == "no_such_subteam" => Ok(false),
                Err(e) => Err(DirectoryError(e.to_string())),
            }
        })
    }
}
