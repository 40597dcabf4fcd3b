//! Argo Rollouts (`rollout/NAME`) against the real controller and its kubectl plugin, both
//! built from the Go module proxy by the test environment: twin canary Rollouts, one moved by
//! pitcrew and one by `kubectl argo rollouts`, must end in the same state after every verb
//! (advance, abort, retry, advance --full, undo, pause/resume, restart).

use std::process::Command;
use std::time::{Duration, Instant};

use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

use crate::common::app::TestConfig;
use crate::common::cluster::TestCluster;
use crate::common::{Part, require_env};

const POLICY: &str = "p, U01DEV, staging, *, *, *, *, *, allow\n";

struct Twins {
    api: Api<DynamicObject>,
    ns: String,
    plugin: String,
    kubeconfig: String,
    config: std::path::PathBuf,
    /// Kept for the test's length: the namespace and the configuration's directory.
    _namespace: crate::common::cluster::TestNamespace,
    _dir: tempfile::TempDir,
}

fn rollout(name: &str, image: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            },
            "strategy": {"canary": {"steps": [
                {"setWeight": 50}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}
            ]}}
        }
    }))
    .expect("a Rollout")
}

impl Twins {
    /// Twin Rollouts `a` and `b` (`make(name)`) in a new namespace holding `services` first,
    /// both Healthy, and pitcrew configured with the namespace as `staging`. `None` when the
    /// plugin is not there (outside CI, skipped).
    async fn start(
        cluster: &TestCluster,
        prefix: &str,
        services: &[&str],
        make: impl Fn(&str) -> DynamicObject,
    ) -> Option<Twins> {
        let plugin = require_env(Part::Cluster, "PITCREW_TEST_ARGO_ROLLOUTS")?;
        let ns = cluster.namespace(prefix).await;
        let api: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &ns.name,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
                "rollouts",
            ),
        );
        let service_api: Api<k8s_openapi::api::core::v1::Service> =
            Api::namespaced(cluster.client.clone(), &ns.name);
        for name in services {
            let service = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"selector": {"app": name.split('-').next()}, "ports": [{"port": 80}]}
            }))
            .expect("a Service");
            service_api
                .create(&PostParams::default(), &service)
                .await
                .expect("create the Service");
        }
        for n in ["a", "b"] {
            api.create(&PostParams::default(), &make(n))
                .await
                .expect("create the Rollout");
        }
        let (dir, config) = TestConfig::new(POLICY)
            .set("rollout", "timeout", "60s")
            .cluster(&cluster.kubeconfig)
            .environment("staging", &ns.name)
            .write();
        let t = Twins {
            api,
            ns: ns.name.clone(),
            plugin,
            kubeconfig: cluster.kubeconfig.clone(),
            config,
            _namespace: ns,
            _dir: dir,
        };
        t.both("Healthy").await;
        Some(t)
    }

    /// pitcrew on `a`, as U01DEV in staging.
    fn pitcrew(&self, text: &str) -> (i32, String) {
        crate::common::cli::exec(&self.config, &[], "U01DEV", None, true, text)
    }

    /// `kubectl argo rollouts ARGS` on `b`.
    fn plugin(&self, args: &[&str]) -> String {
        let out = Command::new(&self.plugin)
            .args(args)
            .args(["-n", &self.ns, "--kubeconfig", &self.kubeconfig])
            .output()
            .expect("run kubectl-argo-rollouts");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "kubectl argo rollouts {args:?}: {text}"
        );
        text
    }

    async fn get(&self, name: &str) -> DynamicObject {
        self.api.get(name).await.expect("get the Rollout")
    }

    /// Both twins' comparable state: what the verbs change, with `b`'s name written as `a`.
    async fn same(&self, what: &str) {
        let view = |o: &DynamicObject| {
            let d = &o.data;
            let text = json!({
                "paused": d.pointer("/spec/paused"),
                "template": d.pointer("/spec/template/spec"),
                "restartAt": d.pointer("/spec/restartAt").map(|_| "set"),
                "abort": d.pointer("/status/abort"),
                "promoteFull": d.pointer("/status/promoteFull"),
                "step": d.pointer("/status/currentStepIndex"),
                "pauseConditions": d.pointer("/status/pauseConditions").map(|c| c.as_array().map(|a| a.iter().map(|p| p["reason"].clone()).collect::<Vec<_>>())),
                "phase": d.pointer("/status/phase"),
            })
            .to_string();
            text.replace("\"b\"", "\"a\"")
        };
        // The controller acts on both; give it until they agree.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (a, b) = (view(&self.get("a").await), view(&self.get("b").await));
            if a == b {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: pitcrew's {a}\n kubectl argo rollouts' {b}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until both twins are at `phase` (as the controller reports it).
    async fn both(&self, phase: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut at = Vec::new();
            for n in ["a", "b"] {
                let o = self.get(n).await;
                let observed = o
                    .data
                    .pointer("/status/observedGeneration")
                    .and_then(|g| g.as_str().map(str::to_string));
                let current = o.metadata.generation.map(|g| g.to_string());
                at.push((
                    o.data
                        .pointer("/status/phase")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    observed == current,
                ));
            }
            if at.iter().all(|(p, seen)| p == phase && *seen) {
                return;
            }
            assert!(Instant::now() < deadline, "not both {phase}: {at:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn set_image(&self, image: &str) {
        for n in ["a", "b"] {
            let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
            self.api
                .patch(n, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .expect("set the image");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_verbs_leave_twins_as_the_argo_rollouts_plugin_does() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let Some(t) = Twins::start(&cluster, "argo", &[], |n| rollout(n, "shop/web:1")).await else {
        return;
    };
    let ns = &t._namespace;

    // A new version stops at the first pause step (setWeight 50).
    t.set_image("shop/web:2").await;
    t.both("Paused").await;
    let (code, out) = t.pitcrew("status rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Paused - CanaryPauseStep"),
        "in Argo's words: {out}"
    );
    assert!(
        out.contains("Step=1/4") && out.contains("SetWeight=50"),
        "{out}"
    );

    // advance = `promote`: on to the next pause step.
    let (code, out) = t.pitcrew("advance rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("advanced rollout/a"), "{out}");
    assert!(
        out.contains("Step=3/4") || out.contains("CanaryPauseStep"),
        "followed to the next pause: {out}"
    );
    t.plugin(&["promote", "b"]);
    t.same("advance").await;

    // abort: back to the stable version, not followed.
    let (code, out) = t.pitcrew("abort rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("aborted the update of rollout/a") && out.contains("retry rollout/a"),
        "{out}"
    );
    t.plugin(&["abort", "b"]);
    t.same("abort").await;
    t.both("Degraded").await;

    // retry: the update starts again, to its first pause.
    let (code, out) = t.pitcrew("retry rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    t.plugin(&["retry", "rollout", "b"]);
    t.same("retry").await;
    t.both("Paused").await;

    // advance --full: every remaining step skipped, to Healthy.
    let (code, out) = t.pitcrew("advance rollout/a --full -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fully promoted rollout/a"), "{out}");
    t.plugin(&["promote", "b", "--full"]);
    t.same("advance --full").await;
    t.both("Healthy").await;

    // undo: the previous revision's template back, the hash label left out.
    let (code, out) = t.pitcrew("rollback rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rolled back rollout/a to revision 1"), "{out}");
    t.plugin(&["undo", "b"]);
    t.same("undo").await;
    let (code, out) = t.pitcrew("rollback rollout/a --to-revision 3 -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("skipped rollback"),
        "the running revision: {out}"
    );
    let (code, out) = t.pitcrew("history rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("shop/web:1") && out.contains("shop/web:2"),
        "{out}"
    );

    // pause and resume (`spec.paused`), and restart (`spec.restartAt`).
    t.both("Paused").await;
    let (code, out) = t.pitcrew("pause rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    t.plugin(&["pause", "b"]);
    t.same("pause").await;
    // The plugin has no resume (its `promote` also skips the step): pitcrew's resume is the
    // inverse of its pause, `spec.paused: false`, the same merge patch kubectl sends here.
    let (code, out) = t.pitcrew("resume rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    let unpause = std::process::Command::new(&cluster.kubectl)
        .args([
            "--kubeconfig",
            &cluster.kubeconfig,
            "-n",
            &ns.name,
            "patch",
            "rollout",
            "b",
        ])
        .args(["--type", "merge", "-p", r#"{"spec":{"paused":false}}"#])
        .output()
        .expect("kubectl patch");
    assert!(unpause.status.success(), "{unpause:?}");
    t.same("resume").await;
    let (code, out) = t.pitcrew("advance rollout/a --full -e staging");
    assert_eq!(code, 0, "{out}");
    t.plugin(&["promote", "b", "--full"]);
    t.both("Healthy").await;
    let (code, out) = t.pitcrew("restart rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("restarted rollout/a"), "{out}");
    t.plugin(&["restart", "b"]);
    t.same("restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blue_green_rollout_is_advanced_past_its_pre_promotion_pause_as_the_plugin_does() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let blue_green = |n: &str| {
        let mut obj = rollout(n, "shop/web:1");
        obj.data["spec"]["strategy"] = json!({"blueGreen": {
            "activeService": format!("{n}-active"), "autoPromotionEnabled": false
        }});
        obj
    };
    let Some(t) = Twins::start(&cluster, "argo-bg", &["a-active", "b-active"], blue_green).await
    else {
        return;
    };
    t.set_image("shop/web:2").await;
    t.both("Paused").await;
    let (code, out) = t.pitcrew("status rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Paused - BlueGreenPause"), "{out}");
    let (code, out) = t.pitcrew("advance rollout/a -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("advanced rollout/a"), "{out}");
    t.plugin(&["promote", "b"]);
    t.same("advance (blue-green)").await;
    t.both("Healthy").await;
}
