//! Status conditions with ESO's reasons and messages, written only when they change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::crd::common::{ConditionStatus, StatusCondition};

pub mod reason {
    pub const SECRET_SYNCED: &str = "SecretSynced";
    pub const SECRET_SYNCED_ERROR: &str = "SecretSyncedError";
    pub const SECRET_DELETED: &str = "SecretDeleted";
    pub const SECRET_MISSING: &str = "SecretMissing";
    pub const STORE_VALID: &str = "Valid";
    pub const INVALID_PROVIDER_CONFIG: &str = "InvalidProviderConfig";
    pub const VALIDATION_UNKNOWN: &str = "ValidationUnknown";
}

pub mod message {
    pub const SECRET_SYNCED: &str = "secret synced";
    pub const SECRET_RETAINED: &str = "secret retained due to DeletionPolicy=Retain";
    pub const SECRET_DELETED: &str = "secret deleted due to DeletionPolicy=Delete";
    pub const SECRET_MISSING: &str = "secret will not be created due to CreationPolicy=Merge";
    pub const STORE_VALIDATED: &str = "store validated";
    pub const STORE_UNKNOWN: &str = "could not determine validation status";
    pub const STORE_CLIENT: &str = "unable to create client";
    /// Ampoule's own: a store that would authenticate as the operator, on a class without the
    /// grant.
    pub const STORE_CONTROLLER_IDENTITY: &str = "this store names no credentials, so it would \
        authenticate as the operator's own ServiceAccount: set \
        spec.credentials.allowControllerIdentity: true on the ProviderClass serving its provider, \
        or give the store credentials";
    pub const STORE_VALIDATE: &str = "unable to validate store";
}

pub fn now() -> Time {
    Time(Timestamp::now())
}

/// Sets condition `type_` in `conditions`, keeping `lastTransitionTime` when the status does not
/// change. Returns the new list.
pub fn set_condition<T: Clone + PartialEq>(
    conditions: &[StatusCondition<T>],
    type_: T,
    status: ConditionStatus,
    reason: &str,
    message: &str,
) -> Vec<StatusCondition<T>> {
    let previous = conditions.iter().find(|c| c.type_ == type_);
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone().or_else(|| Some(now())),
        _ => Some(now()),
    };
    let updated = StatusCondition {
        type_: type_.clone(),
        status,
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time,
    };
    let mut out: Vec<StatusCondition<T>> = conditions
        .iter()
        .filter(|c| c.type_ != type_)
        .cloned()
        .collect();
    out.push(updated);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_transition_time_while_status_is_unchanged() {
        let first = set_condition(&[], "Ready".to_string(), ConditionStatus::False, "A", "a");
        let t0 = first[0].last_transition_time.clone();
        let same = set_condition(
            &first,
            "Ready".to_string(),
            ConditionStatus::False,
            "B",
            "b",
        );
        assert_eq!(same[0].last_transition_time, t0);
        assert_eq!(same[0].reason.as_deref(), Some("B"));
        assert_eq!(same.len(), 1);
        let flipped = set_condition(&same, "Ready".to_string(), ConditionStatus::True, "C", "c");
        assert_eq!(flipped[0].status, ConditionStatus::True);
    }
}
