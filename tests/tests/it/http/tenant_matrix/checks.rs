//! What a response must hold beyond its status: Glance's error body on refusals, and no
//! cross-tenant read: the bytes only to those allowed, members only to the owning
//! project and admins (a member project sees its own entry), tasks and events only to
//! the owning project and admins.

use domain::ImageId;
use imagefleet_tests::TestResponse;
use imagefleet_tests::fixtures::OWNER_PROJECT;
use serde_json::Value;

use super::actors::{ACCEPTED_PROJECT, PENDING_PROJECT, REJECTED_PROJECT, Who};
use super::cells::{DATA, Endpoint};

/// The problems with a response whose status was as expected; empty when none.
pub fn content(
    endpoint: Endpoint,
    who: Who,
    image: ImageId,
    response: &TestResponse,
) -> Vec<String> {
    let mut problems = Vec::new();
    let status = response.status.as_u16();
    if status >= 400 {
        if response.json["code"] != status || !response.json["message"].is_string() {
            problems.push(format!("not Glance's error body: {}", response.text));
        }
        if contains(&response.bytes, DATA) {
            problems.push("a refusal carries the image data".into());
        }
        return problems;
    }
    let actor = who.actor();
    match endpoint {
        Endpoint::Show if response.json["id"] != image.to_string() => {
            problems.push(format!("another image: {}", response.text));
        }
        Endpoint::Show if response.json.get("members").is_some() => {
            problems.push("the image view lists members".into());
        }
        Endpoint::Download | Endpoint::DownloadDeactivated if response.bytes != DATA => {
            problems.push(format!("{} bytes, not the image's", response.bytes.len()));
        }
        Endpoint::MembersList => {
            let mut shown: Vec<&str> = array(&response.json["members"])
                .iter()
                .filter_map(|m| m["member_id"].as_str())
                .collect();
            shown.sort_unstable();
            let all = [ACCEPTED_PROJECT, PENDING_PROJECT, REJECTED_PROJECT];
            let own = [actor.project_id.as_str()];
            let expected: &[&str] = if who.sees_all_members() { &all } else { &own };
            if shown != expected {
                problems.push(format!("members {shown:?}, expected {expected:?}"));
            }
        }
        Endpoint::MemberShow if response.json["member_id"] != ACCEPTED_PROJECT => {
            problems.push(format!("another member: {}", response.text));
        }
        Endpoint::ImageTasks => {
            let tasks = array(&response.json["tasks"]);
            let expected = usize::from(who.sees_all_members());
            if tasks.len() != expected {
                problems.push(format!("{} tasks, expected {expected}", tasks.len()));
            }
        }
        Endpoint::History => problems.extend(history(who, &response.json)),
        _ => {}
    }
    problems
}

/// The history must be the image's, and name no project but the owner's, the service's
/// and the caller's own unless the caller sees every member.
fn history(who: Who, body: &Value) -> Vec<String> {
    let entries = array(&body["history"]);
    let mut problems = Vec::new();
    if entries.first().map(|e| &e["type"]) != Some(&Value::from("image.created")) {
        problems.push(format!("history does not start with the creation: {body}"));
    }
    if who.sees_all_members() {
        return problems;
    }
    let own = who.actor().project_id;
    for entry in entries {
        let project = entry["actor"]["project_id"].as_str().unwrap_or_default();
        if ![OWNER_PROJECT, "imagefleet", "admin-project", own.as_str()].contains(&project) {
            problems.push(format!("history names project {project}: {entry}"));
        }
    }
    problems
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
