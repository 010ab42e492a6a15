//! Scenarios for the cluster, gateway, leafnode, MQTT and WebSocket config
//! blocks as one server shows them: what `-t` says, whether the server
//! starts (and the error it prints when it refuses), the warnings it logs at
//! start-up, what `/varz` reports of each block, the INFO its route
//! listener sends, and whether a reload that changes a block is refused.
//! None of these needs a second server.

use crate::check_eq;
use crate::kit::check_config as check;
use crate::kit::reload::{hup, reason, Outcome};
use crate::kit::{self, certs, Ctx, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("config/cluster-permissions", |c| {
            cluster_permissions(c).boxed()
        })
        .needs(Need::Cluster(1))
        .full("TestClusterPermissionsConfig"),
        Scenario::new("config/cluster-and-gateway-name-conflict", |c| {
            cluster_gateway_name_conflict(c).boxed()
        })
        .full("TestClusterNameAndGatewayNameConflict"),
        Scenario::new("config/gateway-options-in-varz", |c| {
            gateway_options_in_varz(c).boxed()
        })
        .needs(Need::Monitoring)
        .needs(Need::Tls)
        .partial("TestParsingGateways"),
        Scenario::new("monitoring/varz-gateway-own-urls", |c| {
            varz_gateway_own_urls(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestMonitorGatewayReportItsOwnURLs"),
        Scenario::new("config/leafnode-listener-in-varz", |c| {
            leafnode_listener_in_varz(c).boxed()
        })
        .needs(Need::Monitoring)
        .needs(Need::Tls)
        .partial("TestParsingLeafNodesListener"),
        Scenario::new("config/leafnode-remotes-in-varz", |c| {
            leafnode_remotes_in_varz(c).boxed()
        })
        .needs(Need::Monitoring)
        .partial("TestParsingLeafNodeRemotes"),
        Scenario::new("config/route-and-cluster-flags-override", |c| {
            route_and_cluster_flags(c).boxed()
        })
        .needs(Need::Monitoring)
        .partial("TestRouteFlagOverride")
        .partial("TestClusterFlagsOverride")
        .partial("TestRouteFlagOverrideWithMultiple"),
        Scenario::new("lifecycle/gateway-options-refused", |c| {
            gateway_options_refused(c).boxed()
        })
        .full("TestServerValidateGatewaysOptions"),
        Scenario::new("lifecycle/insecure-tls-warnings", |c| {
            insecure_tls_warnings(c).boxed()
        })
        .needs(Need::Tls)
        .full("TestInsecureSkipVerifyWarning"),
        Scenario::new("reload/gateway-change-refused", |c| {
            gateway_change_refused(c).boxed()
        })
        .needs(Need::Tls)
        .full("TestConfigReloadNotPreventedByGateways"),
        Scenario::new("monitoring/varz-mqtt", |c| varz_mqtt(c).boxed())
            .needs(Need::Monitoring)
            .needs(Need::Mqtt)
            .full("TestMonitorMQTT"),
        Scenario::new("monitoring/varz-websocket", |c| varz_websocket(c).boxed())
            .needs(Need::Monitoring)
            .needs(Need::WebSocket)
            .full("TestMonitorWebsocket"),
        Scenario::new("config/tls-pinned-certs-every-listener", |c| {
            tls_pinned_certs_every_listener(c).boxed()
        })
        .needs(Need::Monitoring)
        .needs(Need::Tls)
        .partial("TestTlsPinnedCertificates"),
    ]
}

// ---------------------------------------------------------------------------
// Helpers

/// Starts a server that must refuse to start: returns (and records) the
/// first line it printed that is not an informational log line.
async fn refused_start(ctx: &Ctx, label: &str, body: &str) -> Result<String> {
    let line = kit::refused_start(ctx, body)
        .await
        .with_context(|| format!("{label}: the server must refuse to start"))?;
    ctx.observe(&format!("{label}: refused with"), &line);
    Ok(line)
}

/// The kit's certificates, written into the scenario's folder; returns the
/// folder (absolute), for configs of servers that run elsewhere.
fn certs_dir(ctx: &Ctx) -> Result<String> {
    certs::write_all(ctx)?;
    let ca = ctx.write_file("ca.pem", certs::FILES[0].1)?;
    Ok(ca
        .parent()
        .context("certificate folder")?
        .to_string_lossy()
        .to_string())
}

fn tls_block(dir: &str, extra: &str) -> String {
    format!(
        "tls {{\n      cert_file: \"{dir}/server-cert.pem\"\n      key_file: \"{dir}/server-key.pem\"\n      {extra}\n    }}"
    )
}

/// /varz of a server started with this body (which must name
/// `{{http_port}}`).
async fn varz_with(ctx: &Ctx, body: &str, args: &[String]) -> Result<(Server, Value)> {
    let s = ctx
        .server(ServerSpec::new().conf(body).args(args.iter().cloned()))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    Ok((s, varz))
}

const MON: &str = "http: 127.0.0.1:{{http_port}}\n";

// ---------------------------------------------------------------------------
// server/opts_test.go: cluster permissions

const CLUSTER_PERMS_TEMPLATE: &str = "\n\t\tcluster {\n\t\t\tport: {{cluster_port}}\n\t\t\t%s\n\t\t\tauthorization {\n\t\t\t\tuser: ivan\n\t\t\t\tpassword: pwd\n\t\t\t\tpermissions {\n\t\t\t\t\timport {\n\t\t\t\t\t\tallow: \"foo\"\n\t\t\t\t\t}\n\t\t\t\t\texport {\n\t\t\t\t\t\tallow: \"bar\"\n\t\t\t\t\t}\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t";

const CLUSTER_TOP_PERMS: &str = "\n\t\tpermissions {\n\t\t\timport {\n\t\t\t\tallow: \"baz\"\n\t\t\t}\n\t\t\texport {\n\t\t\t\tallow: \"bat\"\n\t\t\t}\n\t\t}\n\t";

const INVALID_CLUSTER_PERMS: &[&str] = &[
    "permissions: foo",
    "permissions {\n\t\t\tunknown_field: \"foo\"\n\t\t}",
    "permissions {\n\t\t\timport: [1, 2, 3]\n\t\t}",
    "permissions {\n\t\t\timport {\n\t\t\t\tunknown_field: \"foo\"\n\t\t\t}\n\t\t}",
    "permissions {\n\t\t\timport {\n\t\t\t\tallow {\n\t\t\t\t\tx: y\n\t\t\t\t}\n\t\t\t}\n\t\t}",
    "permissions {\n\t\t\timport {\n\t\t\t\tdeny {\n\t\t\t\t\tx: y\n\t\t\t\t}\n\t\t\t}\n\t\t}",
    "permissions {\n\t\t\texport: [1, 2, 3]\n\t\t}",
    "permissions {\n\t\t\texport {\n\t\t\t\tunknown_field: \"foo\"\n\t\t\t}\n\t\t}",
    "permissions {\n\t\t\texport {\n\t\t\t\tallow {\n\t\t\t\t\tx: y\n\t\t\t\t}\n\t\t\t}\n\t\t}",
    "permissions {\n\t\t\texport {\n\t\t\t\tdeny {\n\t\t\t\t\tx: y\n\t\t\t\t}\n\t\t\t}\n\t\t}",
];

/// What `-t` prints for each invalid permissions block, directly in the
/// cluster block and inside its authorization block.
const INVALID_CLUSTER_PERMS_ERRORS: &[(&str, &str)] = &[
    (
        "exit 1: Expected permissions to be a map/struct, got foo",
        "exit 1: <conf>:7:6: Expected permissions to be a map/struct, got foo",
    ),
    (
        "exit 1: <conf>:5:4: Unknown field \"unknown_field\" parsing permissions",
        "exit 1: <conf>:4:5: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated\n<conf>:8:4: Unknown field \"unknown_field\" parsing permissions",
    ),
    (
        "exit 1: Parse error on line 6: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '}' instead.'",
        "exit 1: Parse error on line 9: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '}' instead.'",
    ),
    (
        "exit 1: <conf>:6:5: Unknown field name \"unknown_field\" parsing subject permissions, only 'allow' or 'deny' are permitted",
        "exit 1: <conf>:4:5: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated\n<conf>:9:5: Unknown field name \"unknown_field\" parsing subject permissions, only 'allow' or 'deny' are permitted",
    ),
    (
        "exit 1: <conf>:6:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
        "exit 1: <conf>:4:5: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated\n<conf>:9:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
    ),
    (
        "exit 1: <conf>:6:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
        "exit 1: <conf>:4:5: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated\n<conf>:9:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
    ),
    (
        "exit 1: Parse error on line 6: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '}' instead.'",
        "exit 1: Parse error on line 9: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '}' instead.'",
    ),
    (
        "exit 1: <conf>:6:5: Unknown field name \"unknown_field\" parsing subject permissions, only 'allow' or 'deny' are permitted",
        "exit 1: <conf>:4:5: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated\n<conf>:9:5: Unknown field name \"unknown_field\" parsing subject permissions, only 'allow' or 'deny' are permitted",
    ),
    (
        "exit 1: <conf>:6:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
        "exit 1: <conf>:4:5: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated\n<conf>:9:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
    ),
    (
        "exit 1: <conf>:6:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
        "exit 1: <conf>:4:5: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated\n<conf>:9:5: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}",
    ),
];

/// The INFO the route listener sends first on a raw TCP connection.
async fn route_info(s: &Server) -> Result<Value> {
    // Go logs that the route listener is up after "Server is ready".
    s.wait_for_log("Listening for route connections", Duration::from_secs(3))
        .await
        .context("no route listener")?;
    let port = s.ports().cluster.context("no cluster port")?;
    let (_c, info) = RawClient::connect_info(&format!("127.0.0.1:{port}")).await?;
    Ok(info)
}

async fn cluster_permissions(ctx: Ctx) -> Result<()> {
    // Permissions inside the cluster authorization block: accepted with a
    // deprecation warning (which `-t` reports and fails on), and the route
    // listener announces them.
    let in_auth = CLUSTER_PERMS_TEMPLATE.replacen("%s", "", 1);
    check_eq!(
        check(&ctx, "permissions in authorization", &in_auth.replace("{{cluster_port}}", "1234")).await?,
        "exit 1: <conf>:5:4: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated"
    );
    let s = ctx.server(ServerSpec::new().conf(&in_auth)).await?;
    let info = route_info(&s).await?;
    ctx.observe_json(
        "permissions in authorization: route INFO import",
        &info["import"],
    );
    ctx.observe_json(
        "permissions in authorization: route INFO export",
        &info["export"],
    );
    check_eq!(info["import"], json!({"allow": ["foo"]}));
    check_eq!(info["export"], json!({"allow": ["bar"]}));

    // Permissions in the cluster block win over those in authorization.
    let both = CLUSTER_PERMS_TEMPLATE.replacen("%s", CLUSTER_TOP_PERMS, 1);
    check_eq!(
        check(&ctx, "permissions in both", &both.replace("{{cluster_port}}", "1234")).await?,
        "exit 1: <conf>:14:4: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated"
    );
    let s = ctx.server(ServerSpec::new().conf(&both)).await?;
    let info = route_info(&s).await?;
    ctx.observe_json("permissions in both: route INFO import", &info["import"]);
    ctx.observe_json("permissions in both: route INFO export", &info["export"]);
    check_eq!(info["import"], json!({"allow": ["baz"]}));
    check_eq!(info["export"], json!({"allow": ["bat"]}));

    // Invalid permissions, in the cluster block and in its authorization.
    for (i, (perms, (in_cluster, in_authorization))) in INVALID_CLUSTER_PERMS
        .iter()
        .zip(INVALID_CLUSTER_PERMS_ERRORS)
        .enumerate()
    {
        let conf =
            format!("\n\t\t\tcluster {{\n\t\t\t\tport: 1234\n\t\t\t\t{perms}\n\t\t\t}}\n\t\t");
        check_eq!(
            check(&ctx, &format!("invalid {i} in cluster"), &conf).await?,
            *in_cluster
        );
        let conf = format!(
            "\n\t\t\tcluster {{\n\t\t\t\tport: 1234\n\t\t\t\tauthorization {{\n\t\t\t\t\tuser: ivan\n\t\t\t\t\tpassword: pwd\n\t\t\t\t\t{perms}\n\t\t\t\t}}\n\t\t\t}}\n\t\t"
        );
        check_eq!(
            check(
                &ctx,
                &format!("invalid {i} in cluster authorization"),
                &conf
            )
            .await?,
            *in_authorization
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// server/opts_test.go: cluster and gateway names

async fn cluster_gateway_name_conflict(ctx: Ctx) -> Result<()> {
    let conf = "\n\t\tcluster {\n\t\t\tname: A\n\t\t\tlisten: 127.0.0.1:-1\n\t\t}\n\t\tgateway {\n\t\t\tname: B\n\t\t\tlisten: 127.0.0.1:-1\n\t\t}\n\t";
    let line = refused_start(&ctx, "cluster A, gateway B", conf).await?;
    check_eq!(
        line,
        "nats-server: cluster name conflicts between cluster and gateway definitions"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// server/opts_test.go: gateway and leafnode blocks in /varz

async fn gateway_options_in_varz(ctx: Ctx) -> Result<()> {
    let dir = certs_dir(&ctx)?;
    let body = format!(
        "{MON}gateway {{\n    name: \"A\"\n    listen: \"127.0.0.1:{{{{cluster_port}}}}\"\n    host: \"127.0.0.1\"\n    port: {{{{cluster_port}}}}\n    reject_unknown_cluster: true\n    authorization {{\n      user: \"ivan\"\n      password: \"pwd\"\n      timeout: 2.0\n    }}\n    {}\n    advertise: \"me:1\"\n    connect_retries: 10\n    gateways: [\n      {{\n        name: \"B\"\n        urls: [\"nats://user1:pwd1@host2:5222\", \"nats://user1:pwd1@host3:6222\"]\n      }}\n      {{\n        name: \"C\"\n        url: \"nats://host4:7222\"\n      }}\n    ]\n}}\n",
        tls_block(&dir, "timeout: 3.0")
    );
    let (s, varz) = varz_with(&ctx, &body, &[]).await?;
    // Go lists a remote gateway's URLs from a map: in any order.
    let mut gw = varz["gateway"].clone();
    if let Some(remotes) = gw["gateways"].as_array_mut() {
        for r in remotes {
            if let Some(urls) = r["urls"].as_array_mut() {
                urls.sort_by_key(|u| u.as_str().unwrap_or_default().to_string());
            }
        }
    }
    ctx.observe_json("varz gateway", &gw);
    check_eq!(gw["name"].as_str(), Some("A"));
    check_eq!(gw["host"].as_str(), Some("127.0.0.1"));
    check_eq!(gw["port"].as_u64(), s.ports().cluster.map(u64::from));
    check_eq!(gw["auth_timeout"].as_f64(), Some(2.0));
    check_eq!(gw["tls_timeout"].as_f64(), Some(3.0));
    check_eq!(gw["advertise"].as_str(), Some("me:1"));
    check_eq!(gw["connect_retries"].as_u64(), Some(10));
    check_eq!(gw["reject_unknown"].as_bool(), Some(true));
    check_eq!(
        gw["gateways"],
        json!([
            {"name": "B", "urls": ["host2:5222", "host3:6222"]},
            {"name": "C", "urls": ["host4:7222"]}
        ])
    );
    Ok(())
}

async fn varz_gateway_own_urls(ctx: Ctx) -> Result<()> {
    // The server's own gateway listed as a remote (as when the same remote
    // list is copied to every cluster): /varz shows the URLs configured.
    let body = format!(
        "{MON}gateway {{\n  name: \"A\"\n  listen: \"127.0.0.1:{{{{cluster_port}}}}\"\n  gateways: [\n    {{name: \"A\", urls: [\"nats://127.0.0.1:1234\", \"nats://127.0.0.1:1235\"]}}\n  ]\n}}\n"
    );
    let (_s, varz) = varz_with(&ctx, &body, &[]).await?;
    let gateways = &varz["gateway"]["gateways"];
    ctx.observe_json("varz gateway remotes", gateways);
    let list = gateways.as_array().context("no gateway remotes in /varz")?;
    check_eq!(list.len(), 1);
    check_eq!(list[0]["urls"].as_array().map(Vec::len), Some(2));
    check_eq!(list[0]["urls"], json!(["127.0.0.1:1234", "127.0.0.1:1235"]));
    Ok(())
}

async fn leafnode_listener_in_varz(ctx: Ctx) -> Result<()> {
    let dir = certs_dir(&ctx)?;
    let body = format!(
        "{MON}leafnodes {{\n    listen: \"127.0.0.1:{{{{cluster_port}}}}\"\n    host: \"127.0.0.1\"\n    port: {{{{cluster_port}}}}\n    advertise: \"me:22\"\n    authorization {{\n      user: \"derek\"\n      password: \"s3cr3t!\"\n      timeout: 2.2\n    }}\n    {}\n}}\n",
        tls_block(&dir, "timeout: 3.3")
    );
    let (s, varz) = varz_with(&ctx, &body, &[]).await?;
    let leaf = &varz["leaf"];
    ctx.observe_json("varz leaf", leaf);
    check_eq!(leaf["host"].as_str(), Some("127.0.0.1"));
    check_eq!(leaf["port"].as_u64(), s.ports().cluster.map(u64::from));
    check_eq!(leaf["auth_timeout"].as_f64(), Some(2.2));
    check_eq!(leaf["tls_timeout"].as_f64(), Some(3.3));
    check_eq!(leaf["tls_required"].as_bool(), Some(true));
    Ok(())
}

async fn leafnode_remotes_in_varz(ctx: Ctx) -> Result<()> {
    let remote = "leafnodes {\n  remotes = [\n    {\n      url: nats-leaf://127.0.0.1:2222\n      account: foobar // Local Account to bind to..\n      credentials: \"./my.creds\"\n    }\n  ]\n}\n";
    // The local account must exist.
    let line = refused_start(&ctx, "remote bound to a missing account", remote).await?;
    check_eq!(
        line,
        "nats-server: cannot find local account \"foobar\" specified in leafnode remote"
    );
    let body =
        format!("{MON}accounts {{ foobar {{ users [{{user: a, password: b}}] }} }}\n{remote}");
    let (_s, varz) = varz_with(&ctx, &body, &[]).await?;
    ctx.observe_json("varz leaf remotes", &varz["leaf"]["remotes"]);
    check_eq!(
        varz["leaf"]["remotes"],
        json!([{"local_account": "foobar", "urls": ["127.0.0.1:2222"]}])
    );
    // Both URL lists are reported in the order they were configured.
    let urls: Vec<String> = (0..16)
        .map(|i| format!("nats-leaf://host{i}:7422"))
        .collect();
    let list = serde_json::to_string(&urls)?;
    let body = format!(
        "{MON}leafnodes {{\n  remotes = [\n    {{\n      dont_randomize: true\n      urls: {list}\n    }}\n    {{\n      urls: {list}\n    }}\n  ]\n}}\n"
    );
    let (_s, varz) = varz_with(&ctx, &body, &[]).await?;
    let remotes = &varz["leaf"]["remotes"];
    ctx.observe_json("varz leaf remotes with 16 urls", remotes);
    let hosts: Vec<String> = (0..16).map(|i| format!("host{i}:7422")).collect();
    check_eq!(remotes[0]["urls"], json!(hosts));
    check_eq!(remotes[1]["urls"].as_array().map(Vec::len), Some(16));
    Ok(())
}

// ---------------------------------------------------------------------------
// server/opts_test.go: --routes and --cluster over the file

/// The test's `configs/srv_a.conf`, with allocated ports.
fn srv_a(route_port: u16) -> String {
    format!(
        "{MON}cluster {{\n  name: \"abc\"\n  listen: 127.0.0.1:{{{{cluster_port}}}}\n  authorization {{\n    user: ruser\n    password: top_secret\n    timeout: 0.5\n  }}\n  routes = [\n    nats-route://ruser:top_secret@127.0.0.1:{route_port}\n  ]\n}}\n"
    )
}

fn cluster_seen(varz: &Value) -> Value {
    let mut c = varz["cluster"].clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("cluster_port");
        if let Some(urls) = m.get_mut("urls") {
            *urls = json!(urls.as_array().map_or(0, Vec::len));
        }
    }
    c
}

async fn route_and_cluster_flags(ctx: Ctx) -> Result<()> {
    let (file_route, flag_a, flag_b, cluster_flag) = (
        kit::ports::alloc()?,
        kit::ports::alloc()?,
        kit::ports::alloc()?,
        kit::ports::alloc()?,
    );
    // --routes replaces the file's routes; the rest of the cluster block
    // stays.
    let flag = format!("nats-route://ruser:top_secret@127.0.0.1:{flag_a}");
    let (s, varz) = varz_with(&ctx, &srv_a(file_route), &["--routes".into(), flag]).await?;
    ctx.observe_json("--routes: varz cluster", &cluster_seen(&varz));
    let c = &varz["cluster"];
    check_eq!(c["name"].as_str(), Some("abc"));
    check_eq!(c["addr"].as_str(), Some("127.0.0.1"));
    check_eq!(c["cluster_port"].as_u64(), s.ports().cluster.map(u64::from));
    check_eq!(c["auth_timeout"].as_f64(), Some(0.5));
    check_eq!(c["urls"], json!([format!("127.0.0.1:{flag_a}")]));
    drop(s);

    // Two routes in the flag, separated by a comma and a space.
    let flag = format!(
        "nats-route://ruser:top_secret@127.0.0.1:{flag_a}, nats-route://ruser:top_secret@127.0.0.1:{flag_b}"
    );
    let (s, varz) = varz_with(&ctx, &srv_a(file_route), &["--routes".into(), flag]).await?;
    ctx.observe_json("--routes with two: varz cluster", &cluster_seen(&varz));
    let c = &varz["cluster"];
    check_eq!(c["name"].as_str(), Some("abc"));
    check_eq!(c["auth_timeout"].as_f64(), Some(0.5));
    check_eq!(
        c["urls"],
        json!([format!("127.0.0.1:{flag_a}"), format!("127.0.0.1:{flag_b}")])
    );
    drop(s);

    // --cluster moves the listener; the file's routes stay.
    let flag = format!("nats://127.0.0.1:{cluster_flag}");
    let (s, varz) = varz_with(&ctx, &srv_a(file_route), &["--cluster".into(), flag]).await?;
    ctx.observe_json("--cluster: varz cluster", &cluster_seen(&varz));
    let c = &varz["cluster"];
    check_eq!(c["name"].as_str(), Some("abc"));
    check_eq!(c["addr"].as_str(), Some("127.0.0.1"));
    check_eq!(c["cluster_port"].as_u64(), Some(u64::from(cluster_flag)));
    check_eq!(c["auth_timeout"].as_f64(), Some(0.5));
    check_eq!(c["urls"], json!([format!("127.0.0.1:{file_route}")]));
    drop(s);
    Ok(())
}

// ---------------------------------------------------------------------------
// server/server_test.go: gateway options refused at start-up

async fn gateway_options_refused(ctx: Ctx) -> Result<()> {
    for (label, body, want) in [
        (
            "gateway without name",
            "gateway {\n  host: 127.0.0.1\n  port: -1\n  gateways [ {name: B, url: \"nats://host:5222\"} ]\n}\n",
            "nats-server: gateway has no name",
        ),
        (
            "gateway without port",
            "gateway {\n  name: A\n  host: 127.0.0.1\n  gateways [ {name: B, url: \"nats://host:5222\"} ]\n}\n",
            "nats-server: gateway \"A\" has no port specified (select -1 for random port)",
        ),
        (
            "remote gateway without name",
            "gateway {\n  name: A\n  host: 127.0.0.1\n  port: -1\n  gateways [ {url: \"nats://host:5222\"} ]\n}\n",
            "nats-server: gateway in the list 0 has no name",
        ),
        (
            "remote gateway without url",
            "gateway {\n  name: A\n  host: 127.0.0.1\n  port: -1\n  gateways [ {name: B} ]\n}\n",
            "nats-server: gateway \"B\" has no URL",
        ),
        (
            "remote gateway with an empty url list",
            "gateway {\n  name: A\n  host: 127.0.0.1\n  port: -1\n  gateways [ {name: B, urls: []} ]\n}\n",
            "nats-server: gateway \"B\" has no URL",
        ),
    ] {
        check_eq!(refused_start(&ctx, label, body).await?, want);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// server/server_test.go: warnings for TLS without verification

async fn warned(ctx: &Ctx, label: &str, body: &str, want: &str) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(body)).await?;
    let line = s
        .wait_for_log(want, Duration::from_secs(3))
        .await
        .with_context(|| format!("{label}: no warning {want:?}"))?;
    let warning = line
        .lines()
        .find(|l| l.contains(want))
        .and_then(|l| l.split_once("] ").map(|x| x.1.to_string()))
        .unwrap_or_default();
    ctx.observe(&format!("{label}: warning"), &warning);
    Ok(())
}

async fn insecure_tls_warnings(ctx: Ctx) -> Result<()> {
    let dir = certs_dir(&ctx)?;
    let tls = tls_block(
        &dir,
        &format!("ca_file: \"{dir}/ca.pem\"\n      insecure: true"),
    );
    const ROUTES: &str = "TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN PRODUCTION!";
    const LEAFS: &str = "TLS certificate chain and hostname of solicited leafnodes will not be verified. DO NOT USE IN PRODUCTION!";
    const GWS: &str = "TLS certificate chain and hostname of solicited gateways will not be verified. DO NOT USE IN PRODUCTION!";
    warned(
        &ctx,
        "cluster",
        &format!("cluster {{\n  name: A\n  port: -1\n  {tls}\n}}\n"),
        ROUTES,
    )
    .await?;
    let remote = format!("remotes [ {{ url: \"nats://127.0.0.1:1234\"\n    {tls} }} ]");
    warned(
        &ctx,
        "leafnode remote",
        &format!("leafnodes {{\n  port: -1\n  {remote}\n}}\n"),
        LEAFS,
    )
    .await?;
    warned(
        &ctx,
        "leafnode block and remote",
        &format!("leafnodes {{\n  port: -1\n  {tls}\n  {remote}\n}}\n"),
        LEAFS,
    )
    .await?;
    warned(
        &ctx,
        "leafnode block",
        &format!("leafnodes {{\n  port: -1\n  {tls}\n}}\n"),
        LEAFS,
    )
    .await?;
    let gateways = format!("gateways [ {{ name: B, url: \"nats://127.0.0.1:1234\"\n    {tls} }} ]");
    warned(
        &ctx,
        "gateway remote",
        &format!("gateway {{\n  name: A\n  host: 127.0.0.1\n  port: -1\n  {gateways}\n}}\n"),
        GWS,
    )
    .await?;
    warned(
        &ctx,
        "gateway block and remote",
        &format!(
            "gateway {{\n  name: A\n  host: 127.0.0.1\n  port: -1\n  {tls}\n  {gateways}\n}}\n"
        ),
        GWS,
    )
    .await?;
    warned(
        &ctx,
        "gateway block",
        &format!("gateway {{\n  name: A\n  host: 127.0.0.1\n  port: -1\n  {tls}\n}}\n"),
        GWS,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// server/reload_test.go: a reload that changes the gateway block

async fn gateway_change_refused(ctx: Ctx) -> Result<()> {
    let dir = certs_dir(&ctx)?;
    let conf = |extra: &str, timeout: &str| {
        format!(
            "host: 127.0.0.1\nport: {{{{client_port}}}}\n{extra}\ngateway {{\n  name: \"A\"\n  listen: \"127.0.0.1:-1\"\n  {}\n  gateways [\n    {{\n      name: \"B\"\n      url: \"nats://localhost:8888\"\n    }}\n  ]\n}}\nno_sys_acc: true\n",
            tls_block(&dir, &format!("timeout: {timeout}"))
        )
    };
    let start = conf("", "5");
    let start = start.split_once('\n').map(|x| x.1).unwrap_or(&start);
    let start = start.split_once('\n').map(|x| x.1).unwrap_or(start);
    let s = ctx.server(ServerSpec::new().conf(start)).await?;
    // A supported change next to an unchanged gateway block is applied.
    if let Outcome::Refused(line) = hup(&s, &conf("max_payload: 100000", "5")).await? {
        bail!("reload with max_payload refused: {}", reason(&line));
    }
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["max_payload"].as_u64(), Some(100000));
    ctx.observe("max_payload after reload", info["max_payload"].to_string());
    // A change inside the gateway block is refused.
    let err = match hup(&s, &conf("max_payload: 100000", "3")).await? {
        Outcome::Applied => bail!("the reload changing the gateway block was applied"),
        Outcome::Refused(line) => reason(&line).to_string(),
    };
    // Go goes on with both blocks as Go structs (pointers included).
    let head = err
        .find("Gateway")
        .map_or(err.as_str(), |i| &err[..i + "Gateway".len()])
        .to_string();
    ctx.observe("gateway change refused with", &head);
    check_eq!(head, "config reload not supported for Gateway");
    Ok(())
}

// ---------------------------------------------------------------------------
// server/monitor_test.go: the MQTT and WebSocket blocks in /varz

const PINNED: &str = "7f83b1657ff1fc53b92dc18148a1d65dfc2d4b1fa3d677284addd200126d9069";

async fn varz_mqtt(ctx: Ctx) -> Result<()> {
    let dir = certs_dir(&ctx)?;
    let body = format!(
        "{MON}server_name: mqtt_server\nauthorization {{ users [ {{user: someuser}} ] }}\njetstream {{ store_dir: \"{{{{dir}}}}/js\" }}\nmqtt {{\n  host: 127.0.0.1\n  port: {{{{cluster_port}}}}\n  no_auth_user: someuser\n  js_domain: js\n  authorization {{ timeout: 2.0 }}\n  {}\n  ack_wait: \"4s\"\n  max_ack_pending: 256\n}}\n",
        tls_block(
            &dir,
            &format!("ca_file: \"{dir}/ca.pem\"\n      verify_and_map: true\n      timeout: 3.0\n      pinned_certs: [\"{PINNED}\"]")
        )
    );
    let (s, varz) = varz_with(&ctx, &body, &[]).await?;
    let mqtt = &varz["mqtt"];
    ctx.observe_json("varz mqtt", mqtt);
    // The port is allocated per run: checked apart, so that a failure's
    // message (and the gaps note) is the same from run to run.
    ensure!(
        mqtt["port"].as_u64() == s.ports().cluster.map(u64::from),
        "/varz mqtt port is not the configured port: {}",
        mqtt["port"]
    );
    let mut fields = mqtt.clone();
    if let Some(m) = fields.as_object_mut() {
        m.remove("port");
    }
    check_eq!(
        fields,
        json!({
            "host": "127.0.0.1",
            "no_auth_user": "someuser",
            "auth_timeout": 2,
            "tls_map": true,
            "tls_timeout": 3,
            "tls_pinned_certs": [PINNED],
            "js_domain": "js",
            "ack_wait": 4_000_000_000u64,
            "max_ack_pending": 256
        })
    );
    Ok(())
}

async fn varz_websocket(ctx: Ctx) -> Result<()> {
    // The test trusts the operator key of its seed; jwt_cookie needs one.
    let operator =
        nkeys::KeyPair::from_seed("SOAFYNORQLQFJYBYNUGC5D7SH2MXMUX5BFEWWGHN3EK4VGG5TPT5DZP7QU")
            .map_err(|e| anyhow::anyhow!("operator seed: {e}"))?
            .public_key();
    let body = format!(
        "{MON}trusted_keys: [\"{operator}\"]\nauthorization {{ users [ {{user: someuser}} ] }}\nwebsocket {{\n  host: 127.0.0.1\n  port: {{{{cluster_port}}}}\n  advertise: \"somehost:8080\"\n  no_auth_user: someuser\n  jwt_cookie: somecookiename\n  authorization {{ timeout: 2.0 }}\n  no_tls: true\n  tls {{ verify_and_map: true, pinned_certs: [\"{PINNED}\"] }}\n  same_origin: true\n  allowed_origins: [\"origin1\", \"origin2\"]\n  compression: true\n  handshake_timeout: \"4s\"\n}}\n"
    );
    let (s, varz) = varz_with(&ctx, &body, &[]).await?;
    let ws = &varz["websocket"];
    ctx.observe_json("varz websocket", ws);
    check_eq!(
        *ws,
        json!({
            "host": "127.0.0.1",
            "port": s.ports().cluster,
            "advertise": "somehost:8080",
            "no_auth_user": "someuser",
            "jwt_cookie": "somecookiename",
            "auth_timeout": 2,
            "no_tls": true,
            "tls_map": true,
            "tls_pinned_certs": [PINNED],
            "same_origin": true,
            "allowed_origins": ["origin1", "origin2"],
            "compression": true,
            "handshake_timeout": 4_000_000_000u64
        })
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// server/opts_test.go: pinned certificates of every listener

async fn tls_pinned_certs_every_listener(ctx: Ctx) -> Result<()> {
    let dir = certs_dir(&ctx)?;
    let tls = tls_block(
        &dir,
        "# Require a client certificate and map user id from certificate\n      verify: true\n      pinned_certs: [\"7f83b1657ff1fc53b92dc18148a1d65dfc2d4b1fa3d677284addd200126d9069\",\n        \"a8f407340dcc719864214b85ed96f98d16cbffa8f509d9fa4ca237b7bb3f9c32\"]",
    );
    // The test's whole file (it is only parsed: its cluster and gateway
    // names differ, which would stop a server from starting).
    let file = format!(
        "{tls}\ncluster {{\n  port -1\n  name cluster-hub\n  {tls}\n}}\nleafnodes {{\n  port -1\n  {tls}\n}}\ngateway {{\n  name: \"A\"\n  port -1\n  {tls}\n}}\nwebsocket {{\n  port -1\n  {tls}\n}}\nmqtt {{\n  port -1\n  {tls}\n}}\n"
    );
    check_eq!(
        check(&ctx, "every listener pinned", &file).await?,
        "exit 0: configuration file <conf> is valid"
    );
    // /varz shows the pinned certificates of the MQTT and WebSocket
    // listeners.
    let body = format!(
        "{MON}server_name: pinned\n{tls}\nwebsocket {{\n  port -1\n  {tls}\n}}\njetstream {{ store_dir: \"{{{{dir}}}}/js\" }}\nmqtt {{\n  port -1\n  {tls}\n}}\n"
    );
    let (_s, varz) = varz_with(&ctx, &body, &[]).await?;
    for section in ["mqtt", "websocket"] {
        let pinned = &varz[section]["tls_pinned_certs"];
        ctx.observe_json(&format!("varz {section} pinned certs"), pinned);
        check_eq!(pinned.as_array().map(Vec::len), Some(2));
    }
    Ok(())
}
