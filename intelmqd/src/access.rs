//! Who may talk to the daemon. Its socket is a door to running arbitrary
//! modules, so every connection's peer credentials (`SO_PEERCRED`) are checked:
//! root, the daemon's own user, and members of the socket group are let in;
//! everyone else gets one "permission denied" answer and is logged with their
//! uid and pid. The socket file is also owned by that group, mode 0660, so the
//! kernel already keeps most others out; this check is the second lock.

use nix::unistd::{Gid, Group, Uid, User};

/// The group used when `--socket-group` is not given, where it exists.
pub const DEFAULT_GROUP: &str = "intelmq";

/// The rule, decided once at start.
#[derive(Debug, Clone)]
pub struct Access {
    daemon_uid: u32,
    group: Option<(String, u32)>,
}

/// A peer as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

impl Access {
    /// `group` names the socket group; without it, `intelmq` where that group
    /// exists, else no group (root and the daemon's user only).
    pub fn new(group: Option<&str>) -> Result<Access, String> {
        let group = match group {
            Some(name) => match Group::from_name(name) {
                Ok(Some(found)) => Some((name.to_owned(), found.gid.as_raw())),
                Ok(None) => return Err(format!("the socket group {name:?} does not exist")),
                Err(error) => return Err(format!("cannot look up the group {name:?}: {error}")),
            },
            None => match Group::from_name(DEFAULT_GROUP) {
                Ok(Some(found)) => Some((DEFAULT_GROUP.to_owned(), found.gid.as_raw())),
                _ => None,
            },
        };
        Ok(Access {
            daemon_uid: Uid::effective().as_raw(),
            group,
        })
    }

    /// The socket group's id, to give the socket file to.
    pub fn group_gid(&self) -> Option<u32> {
        self.group.as_ref().map(|(_, gid)| *gid)
    }

    /// Who is allowed, in words, for the refusal and the log.
    pub fn describe(&self) -> String {
        let mut allowed = vec!["root".to_owned()];
        if self.daemon_uid != 0 {
            allowed.push(format!("uid {}", self.daemon_uid));
        }
        if let Some((name, _)) = &self.group {
            allowed.push(format!("members of group {name}"));
        }
        allowed.join(", ")
    }

    /// Lets `peer` in, or says why not.
    pub fn check(&self, peer: Peer) -> Result<(), String> {
        if peer.uid == 0 || peer.uid == self.daemon_uid {
            return Ok(());
        }
        if let Some((_, gid)) = &self.group {
            if peer.gid == *gid || in_group(peer, *gid) {
                return Ok(());
            }
        }
        Err(format!(
            "permission denied: uid {} may not control intelmqd (allowed: {})",
            peer.uid,
            self.describe()
        ))
    }
}

/// Whether the peer is a member of `gid` beyond its primary group: by the
/// process's supplementary groups, or by the group's member list.
fn in_group(peer: Peer, gid: u32) -> bool {
    if let Some(pid) = peer.pid {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if supplementary_groups(&status).contains(&gid) {
                return true;
            }
        }
    }
    let Ok(Some(user)) = User::from_uid(Uid::from_raw(peer.uid)) else {
        return false;
    };
    matches!(Group::from_gid(Gid::from_raw(gid)), Ok(Some(group)) if group.mem.contains(&user.name))
}

fn supplementary_groups(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .map(|groups| {
            groups
                .split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(group: Option<u32>) -> Access {
        Access {
            daemon_uid: 1000,
            group: group.map(|gid| ("intelmq".to_owned(), gid)),
        }
    }

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer {
            uid,
            gid,
            pid: None,
        }
    }

    #[test]
    fn root_and_the_daemons_user_are_let_in() {
        assert!(access(None).check(peer(0, 0)).is_ok());
        assert!(access(None).check(peer(1000, 1000)).is_ok());
    }

    #[test]
    fn others_need_the_group() {
        let refused = access(None).check(peer(1001, 1001)).unwrap_err();
        assert!(refused.contains("uid 1001"), "{refused}");
        assert!(refused.starts_with("permission denied"), "{refused}");
        assert!(access(Some(500)).check(peer(1001, 500)).is_ok());
        assert!(access(Some(500)).check(peer(1001, 1001)).is_err());
    }

    #[test]
    fn reads_supplementary_groups() {
        let status = "Name:\tx\nGroups:\t4 24 500 \nNSpgid:\t1\n";
        assert_eq!(supplementary_groups(status), vec![4, 24, 500]);
        assert!(supplementary_groups("Name:\tx\n").is_empty());
    }
}
