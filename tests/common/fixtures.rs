//! Kubernetes objects for tests, built in one place with chainable constructors:
//! `Workload::new("web").image("nginx:1.25").replicas(3).deployment()`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec, StatefulSet,
    StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// A workload under construction; call `.deployment()`, `.statefulset()` or `.daemonset()`.
#[derive(Debug, Clone)]
pub struct Workload {
    name: String,
    containers: Vec<(String, String)>,
    replicas: i32,
    progress_deadline_seconds: Option<i32>,
    min_ready_seconds: Option<i32>,
    annotations: BTreeMap<String, String>,
    on_delete: bool,
}

impl Workload {
    /// One container named `app` running `registry.invalid/<name>:1`, two replicas.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            containers: vec![("app".into(), format!("registry.invalid/{name}:1"))],
            replicas: 2,
            progress_deadline_seconds: None,
            min_ready_seconds: None,
            annotations: BTreeMap::new(),
            on_delete: false,
        }
    }

    /// Sets the image of the first container.
    pub fn image(mut self, image: &str) -> Self {
        if let Some(first) = self.containers.first_mut() {
            first.1 = image.to_string();
        }
        self
    }

    pub fn container(mut self, name: &str, image: &str) -> Self {
        self.containers.push((name.into(), image.into()));
        self
    }

    pub fn replicas(mut self, n: i32) -> Self {
        self.replicas = n;
        self
    }

    pub fn progress_deadline(mut self, seconds: i32) -> Self {
        self.progress_deadline_seconds = Some(seconds);
        self
    }

    /// `minReadySeconds`: each new pod counts as available only after this long, so a rollout
    /// of N pods takes about N × seconds (kwok makes pods ready at once).
    pub fn min_ready(mut self, seconds: i32) -> Self {
        self.min_ready_seconds = Some(seconds);
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// The `OnDelete` update strategy (StatefulSets and DaemonSets): pods are replaced only
    /// when deleted.
    pub fn on_delete(mut self) -> Self {
        self.on_delete = true;
        self
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), self.name.clone())])
    }

    fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            labels: Some(self.labels()),
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
            ..ObjectMeta::default()
        }
    }

    fn selector(&self) -> LabelSelector {
        LabelSelector {
            match_labels: Some(self.labels()),
            ..LabelSelector::default()
        }
    }

    fn template(&self) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(self.labels()),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: self
                    .containers
                    .iter()
                    .map(|(name, image)| Container {
                        name: name.clone(),
                        image: Some(image.clone()),
                        ..Container::default()
                    })
                    .collect(),
                // Pods on kwok nodes stop instantly; keep deletions quick in the real
                // controllers' eyes too.
                termination_grace_period_seconds: Some(0),
                ..PodSpec::default()
            }),
        }
    }

    pub fn deployment(&self) -> Deployment {
        Deployment {
            metadata: self.meta(),
            spec: Some(DeploymentSpec {
                replicas: Some(self.replicas),
                selector: self.selector(),
                template: self.template(),
                progress_deadline_seconds: self.progress_deadline_seconds,
                min_ready_seconds: self.min_ready_seconds,
                ..DeploymentSpec::default()
            }),
            status: None,
        }
    }

    pub fn statefulset(&self) -> StatefulSet {
        StatefulSet {
            metadata: self.meta(),
            spec: Some(StatefulSetSpec {
                replicas: Some(self.replicas),
                selector: self.selector(),
                service_name: Some(self.name.clone()),
                template: self.template(),
                update_strategy: self.on_delete.then(|| StatefulSetUpdateStrategy {
                    type_: Some("OnDelete".into()),
                    rolling_update: None,
                }),
                ..StatefulSetSpec::default()
            }),
            status: None,
        }
    }

    pub fn daemonset(&self) -> DaemonSet {
        DaemonSet {
            metadata: self.meta(),
            spec: Some(DaemonSetSpec {
                selector: self.selector(),
                template: self.template(),
                update_strategy: self.on_delete.then(|| DaemonSetUpdateStrategy {
                    type_: Some("OnDelete".into()),
                    rolling_update: None,
                }),
                ..DaemonSetSpec::default()
            }),
            status: None,
        }
    }
}
