//! The policy matrix (SPEC 2 "who" and SPEC 7): actor by visibility by operation on an
//! active image, expected outcome written from the spec's rules: an image the caller
//! cannot see answers 404, one it sees but may not change answers 403.

use super::fixtures::*;
use crate::command::{PatchOperation, UpdateImage, UpdateMember};
use crate::status::{MemberStatus, Visibility};
use crate::{Actor, Command, ImageStatus, RejectionKind, State, decide};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    OwnerMember,
    OwnerReader,
    OtherProject,
    SharedPending,
    SharedAccepted,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Update,
    Deactivate,
    Delete,
    AddTag,
    AddMember,
    UpdateMember,
}

const WHO: [Who; 6] = [
    Who::OwnerMember,
    Who::OwnerReader,
    Who::OtherProject,
    Who::SharedPending,
    Who::SharedAccepted,
    Who::Admin,
];
const OPS: [Op; 6] = [
    Op::Update,
    Op::Deactivate,
    Op::Delete,
    Op::AddTag,
    Op::AddMember,
    Op::UpdateMember,
];

/// Accepted with a change, or refused with this kind.
type Outcome = Result<(), RejectionKind>;

/// SPEC 7: who sees an image of each visibility.
fn sees(who: Who, visibility: Visibility) -> bool {
    use Visibility::*;
    match who {
        Who::OwnerMember | Who::OwnerReader | Who::Admin => true,
        Who::OtherProject => matches!(visibility, Public | Community),
        // "A shared member (any status) may GET the image"; private images are the
        // owner's only, whatever members were recorded while the image was shared.
        Who::SharedPending | Who::SharedAccepted => visibility != Private,
    }
}

/// SPEC 2 and 7, by hand; `None` where the spec leaves the outcome open.
fn expected(op: Op, who: Who, visibility: Visibility) -> Option<Outcome> {
    use RejectionKind::Forbidden;
    if !sees(who, visibility) {
        return Some(Err(RejectionKind::NotFound));
    }
    // "member may also create, change, ... deactivate, reactivate and delete; admin
    // everything"; readers, other projects and shared members 403.
    let may_change = matches!(who, Who::OwnerMember | Who::Admin);
    Some(match op {
        Op::Update | Op::Deactivate | Op::Delete | Op::AddTag if may_change => Ok(()),
        Op::Update | Op::Deactivate | Op::Delete | Op::AddTag => Err(Forbidden),
        // SPEC 4: "image not shared 403".
        Op::AddMember if may_change && visibility == Visibility::Shared => Ok(()),
        Op::AddMember => Err(Forbidden),
        // SPEC 4 and 7: only the member sets its status (owner 403); admin everything.
        // A member's answer on a public or community image is not specified.
        Op::UpdateMember => match who {
            Who::SharedPending | Who::SharedAccepted if visibility == Visibility::Shared => Ok(()),
            Who::SharedPending | Who::SharedAccepted => return None,
            // Only shared images have members (Glance 403, admins included), whatever
            // entries the image kept from when it was shared.
            Who::Admin if visibility == Visibility::Shared => Ok(()),
            Who::Admin | Who::OwnerMember | Who::OwnerReader | Who::OtherProject => Err(Forbidden),
        },
    })
}

fn actor(who: Who) -> Actor {
    match who {
        Who::OwnerMember => owner(),
        Who::OwnerReader => reader(),
        Who::OtherProject => other(),
        Who::SharedPending | Who::SharedAccepted => shared_member(),
        Who::Admin => admin(),
    }
}

fn command(op: Op) -> Command {
    match op {
        Op::Update => Command::UpdateImage(UpdateImage {
            image_id: IMAGE,
            operations: vec![PatchOperation::Replace {
                attribute: "name".into(),
                value: "renamed".into(),
            }],
            expected_version: None,
        }),
        Op::Deactivate => Command::DeactivateImage(image_ref()),
        Op::Delete => Command::DeleteImage(image_ref()),
        Op::AddTag => Command::AddTag(tag("t2")),
        Op::AddMember => Command::AddMember(member("p9")),
        Op::UpdateMember => Command::UpdateMember(UpdateMember {
            image_id: IMAGE,
            member_id: MEMBER.into(),
            status: MemberStatus::Rejected,
        }),
    }
}

fn got(op: Op, who: Who, visibility: Visibility) -> Result<usize, RejectionKind> {
    let mut image = image_in(ImageStatus::Active);
    image.visibility = visibility;
    if who == Who::SharedAccepted {
        image.members[0].status = MemberStatus::Accepted;
    }
    let state = State {
        image: Some(image),
        task: None,
    };
    decide(&state, &command(op), &ctx(actor(who)))
        .map(|events| events.len())
        .map_err(|r| r.kind)
}

#[test]
fn policy_matrix_matches_spec() {
    let mut mismatches = Vec::new();
    for op in OPS {
        for who in WHO {
            for visibility in Visibility::ALL.iter().copied() {
                let Some(want) = expected(op, who, visibility) else {
                    continue;
                };
                let got = got(op, who, visibility);
                // Accepted means a change was made: exactly one image event.
                let same = match (&want, &got) {
                    (Ok(()), Ok(n)) => *n == 1,
                    (Err(a), Err(b)) => a == b,
                    _ => false,
                };
                if !same {
                    mismatches.push(format!(
                        "{op:?} by {who:?} on a {visibility} image: expected {want:?}, got {got:?}"
                    ));
                }
            }
        }
    }
    assert_agrees_with_spec(&mismatches);
}

#[test]
fn hidden_statuses_are_hidden_from_non_admins_only() {
    let mut image = image_in(ImageStatus::PendingDelete);
    image.visibility = Visibility::Public;
    let state = State {
        image: Some(image),
        task: None,
    };
    for actor in [
        owner(),
        reader(),
        other(),
        shared_member(),
        Actor::service(),
    ] {
        let got = decide(&state, &Command::AddTag(tag("t2")), &ctx(actor));
        assert_eq!(got.err().map(|r| r.kind), Some(RejectionKind::NotFound));
    }
    // The admin sees it (to restore it), but it takes no metadata change.
    let got = decide(&state, &Command::AddTag(tag("t2")), &ctx(admin()));
    assert_eq!(got.err().map(|r| r.kind), Some(RejectionKind::NotFound));
    let restored = decide(&state, &Command::RestoreImage(image_ref()), &ctx(admin()));
    assert!(restored.is_ok_and(|events| events.len() == 1));
}

#[test]
fn restore_is_for_admins() {
    // SPEC 2: non-admin 403, whatever the image's status: the refusal comes before any
    // lookup, so it tells nothing about which pending_delete images exist.
    let active = State {
        image: Some(image_in(ImageStatus::Active)),
        task: None,
    };
    let got = decide(&active, &Command::RestoreImage(image_ref()), &ctx(owner()));
    assert_eq!(got.err().map(|r| r.kind), Some(RejectionKind::Forbidden));
    let pending = State {
        image: Some(image_in(ImageStatus::PendingDelete)),
        task: None,
    };
    let got = decide(&pending, &Command::RestoreImage(image_ref()), &ctx(owner()));
    assert_eq!(got.err().map(|r| r.kind), Some(RejectionKind::Forbidden));
}

#[test]
fn copy_image_is_for_admins() {
    let state = State {
        image: Some(image_in(ImageStatus::Active)),
        task: None,
    };
    let case = super::cases::case(super::cases::Row::ImportCopyImage, ImageStatus::Active);
    let got = decide(&state, &case.command, &ctx(owner()));
    assert_eq!(
        got.err().map(|r| r.kind),
        Some(RejectionKind::Forbidden),
        "non-admin 403 (SPEC 9)"
    );
}
