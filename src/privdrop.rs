//! `live --user`: give up root once the capture handle is open, like tcpdump's `-Z`.
//!
//! The open handle keeps working; everything after it (reading and decoding untrusted packets,
//! the terminal UI, writing reports) runs as the named account. The order is the one that
//! cannot leave a privilege behind: supplementary groups, group, user (after `setuid` the
//! groups could no longer be changed), then every Linux capability; finally the drop is
//! checked to be irreversible. Capabilities belong to each thread on Linux, so the drop must
//! happen before the process starts a second thread; [`drop_to`] refuses otherwise.

use std::ffi::{CStr, CString};
use std::io;

/// The account `--user` names, resolved from the user database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Account name.
    pub name: String,
    /// User id.
    pub uid: libc::uid_t,
    /// Primary group id.
    pub gid: libc::gid_t,
}

/// Why `--user` cannot be honoured. Each message is one line naming the problem.
#[derive(Debug, thiserror::Error)]
pub enum PrivDropError {
    /// No such account (by name, nor by numeric uid).
    #[error("--user {0}: no such user")]
    UnknownUser(String),
    /// The user database could not be read.
    #[error("--user {user}: cannot look the user up: {err}")]
    Lookup {
        /// As given.
        user: String,
        /// Error from getpwnam_r/getpwuid_r.
        err: io::Error,
    },
    /// The account is root: nothing would be dropped.
    #[error("--user {0}: that account has uid 0, which keeps every privilege; name an unprivileged user such as nobody")]
    Root(String),
    /// This process may not change its ids.
    #[error("--user needs root (or CAP_SETUID/CAP_SETGID); wsscope runs as uid {0}")]
    NotPermitted(libc::uid_t),
    /// A system call of the drop failed.
    #[error("--user {user}: {call} failed: {err}")]
    Syscall {
        /// Account name.
        user: String,
        /// The call, e.g. `setgid(65534)`.
        call: String,
        /// Its error.
        err: io::Error,
    },
    /// Other threads run already; they would keep the capabilities (internal error).
    #[error("--user: privileges must be dropped before other threads start ({0} threads running)")]
    Threads(usize),
    /// The ids changed but root could still be regained (or the ids are not the target's).
    #[error(
        "--user {user}: privileges were not dropped for good ({detail}); refusing to continue"
    )]
    NotIrreversible {
        /// Account name.
        user: String,
        /// What the check found.
        detail: String,
    },
}

/// Resolves `spec` as an account name, or else as a numeric uid; refuses uid 0.
pub fn lookup(spec: &str) -> Result<User, PrivDropError> {
    let unknown = || PrivDropError::UnknownUser(spec.to_string());
    let name = CString::new(spec).map_err(|_| unknown())?;
    let mut found = getpw(spec, Key::Name(&name))?;
    if found.is_none() {
        if let Ok(uid) = spec.parse::<libc::uid_t>() {
            found = getpw(spec, Key::Uid(uid))?;
        }
    }
    let user = found.ok_or_else(unknown)?;
    if user.uid == 0 {
        return Err(PrivDropError::Root(spec.to_string()));
    }
    Ok(user)
}

enum Key<'a> {
    Name(&'a CStr),
    Uid(libc::uid_t),
}

/// One getpwnam_r/getpwuid_r call, growing the string buffer while it is too small.
fn getpw(spec: &str, key: Key<'_>) -> Result<Option<User>, PrivDropError> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: `passwd` is plain old data; the all-zero value is valid (null pointers).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and `buf.len()` is the buffer's size.
        let rc = unsafe {
            match key {
                Key::Name(name) => libc::getpwnam_r(
                    name.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                ),
                Key::Uid(uid) => {
                    libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result)
                }
            }
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        // getpwnam_r(3): ENOENT, ESRCH, EBADF and EPERM also mean "not found".
        if matches!(rc, libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM) {
            return Ok(None);
        }
        if rc != 0 {
            return Err(PrivDropError::Lookup {
                user: spec.to_string(),
                err: io::Error::from_raw_os_error(rc),
            });
        }
        if result.is_null() {
            return Ok(None);
        }
        let name = if pwd.pw_name.is_null() {
            spec.to_string()
        } else {
            // SAFETY: a non-null pw_name points to a NUL-terminated string inside `buf`.
            unsafe { CStr::from_ptr(pwd.pw_name) }
                .to_string_lossy()
                .into_owned()
        };
        return Ok(Some(User {
            name,
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        }));
    }
}

/// Fails early, before anything is opened, when this process may not change its ids.
pub fn check_permitted() -> Result<(), PrivDropError> {
    // SAFETY: no arguments, cannot fail.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    #[cfg(target_os = "linux")]
    if let Ok(caps) = caps::get() {
        let need = (1 << caps::SETGID) | (1 << caps::SETUID);
        return if caps[0].effective & need == need {
            Ok(())
        } else {
            Err(PrivDropError::NotPermitted(uid))
        };
    }
    if euid == 0 {
        Ok(())
    } else {
        Err(PrivDropError::NotPermitted(uid))
    }
}

/// Switches the process, which must have a single thread, to `user` for good: no
/// supplementary groups, `user.gid`, `user.uid`, no capabilities and no privilege gain
/// through exec (Linux); then checks it.
pub fn drop_to(user: &User) -> Result<(), PrivDropError> {
    check_permitted()?;
    #[cfg(target_os = "linux")]
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        let threads = tasks.count();
        if threads > 1 {
            return Err(PrivDropError::Threads(threads));
        }
    }
    let fail = |call: String| {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EPERM) {
            // SAFETY: no arguments, cannot fail.
            return PrivDropError::NotPermitted(unsafe { libc::getuid() });
        }
        PrivDropError::Syscall {
            user: user.name.clone(),
            call,
            err,
        }
    };
    // SAFETY: an empty list (length 0, null pointer) is valid for setgroups.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
        return Err(fail("setgroups(no supplementary groups)".into()));
    }
    // SAFETY: plain system calls on integers.
    if unsafe { libc::setgid(user.gid) } != 0 {
        return Err(fail(format!("setgid({})", user.gid)));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(user.uid) } != 0 {
        return Err(fail(format!("setuid({})", user.uid)));
    }
    #[cfg(target_os = "linux")]
    {
        // A non-root process given CAP_SETUID by setcap keeps its capabilities across setuid.
        caps::clear().map_err(|err| PrivDropError::Syscall {
            user: user.name.clone(),
            call: "capset(no capabilities)".into(),
            err,
        })?;
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(fail("prctl(PR_SET_NO_NEW_PRIVS)".into()));
        }
    }
    verify(user)
}

/// Checks every id is the target's, no other group remains, and root cannot be regained.
fn verify(user: &User) -> Result<(), PrivDropError> {
    let broken = |detail: String| PrivDropError::NotIrreversible {
        user: user.name.clone(),
        detail,
    };
    // SAFETY: no arguments, cannot fail.
    let ids = unsafe {
        [
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        ]
    };
    if ids != [user.uid, user.uid, user.gid, user.gid] {
        return Err(broken(format!(
            "uid {}/{} gid {}/{} (real/effective)",
            ids[0], ids[1], ids[2], ids[3]
        )));
    }
    #[cfg(target_os = "linux")]
    {
        let (mut r, mut e, mut s) = (0, 0, 0);
        // SAFETY: three valid out-pointers.
        if unsafe { libc::getresuid(&mut r, &mut e, &mut s) } != 0 || s != user.uid {
            return Err(broken(format!("saved uid {s}")));
        }
        // SAFETY: as above.
        if unsafe { libc::getresgid(&mut r, &mut e, &mut s) } != 0 || s != user.gid {
            return Err(broken(format!("saved gid {s}")));
        }
        match caps::get() {
            Ok(c)
                if c.iter()
                    .all(|d| d.effective | d.permitted | d.inheritable == 0) => {}
            _ => return Err(broken("capabilities remain".into())),
        }
    }
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    // SAFETY: `groups` has room for `groups.len()` entries.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    let n =
        usize::try_from(n).map_err(|_| broken("more supplementary groups than expected".into()))?;
    if let Some(g) = groups[..n].iter().find(|&&g| g != user.gid) {
        return Err(broken(format!("still in group {g}")));
    }
    // SAFETY: plain system calls on integers; success is the failure being tested for.
    if unsafe { libc::setuid(0) } == 0 {
        return Err(broken("setuid(0) succeeded".into()));
    }
    // SAFETY: as above.
    if user.gid != 0 && unsafe { libc::setgid(0) } == 0 {
        return Err(broken("setgid(0) succeeded".into()));
    }
    Ok(())
}

/// Linux capabilities through the raw capget/capset calls (the libc crate has no wrapper).
#[cfg(target_os = "linux")]
mod caps {
    use std::io;

    /// `CAP_SETGID` bit number.
    pub const SETGID: u32 = 6;
    /// `CAP_SETUID` bit number.
    pub const SETUID: u32 = 7;
    const VERSION_3: u32 = 0x2008_0522;

    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }

    /// One 32-bit word of each capability set (version 3 uses two).
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub struct Data {
        pub effective: u32,
        pub permitted: u32,
        pub inheritable: u32,
    }

    /// This thread's capability sets.
    pub fn get() -> io::Result<[Data; 2]> {
        let mut header = Header {
            version: VERSION_3,
            pid: 0,
        };
        let mut data = [Data::default(); 2];
        // SAFETY: a version-3 header and the two data words it requires.
        let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
        if rc == 0 {
            Ok(data)
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Empties every capability set (always allowed: it only gives up privileges).
    pub fn clear() -> io::Result<()> {
        let mut header = Header {
            version: VERSION_3,
            pid: 0,
        };
        let data = [Data::default(); 2];
        // SAFETY: as in `get`; the kernel only reads `data`.
        let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_user_is_named() {
        let e = lookup("no-such-user-xyz").expect_err("unknown");
        assert_eq!(e.to_string(), "--user no-such-user-xyz: no such user");
        assert!(matches!(lookup("a\0b"), Err(PrivDropError::UnknownUser(_))));
        assert!(matches!(lookup(""), Err(PrivDropError::UnknownUser(_))));
    }

    #[test]
    fn root_is_refused_by_name_and_uid() {
        assert!(matches!(lookup("root"), Err(PrivDropError::Root(_))));
        assert!(matches!(lookup("0"), Err(PrivDropError::Root(_))));
    }

    #[test]
    fn nobody_by_name_and_by_uid() {
        let Ok(by_name) = lookup("nobody") else {
            eprintln!("notice: no 'nobody' account; skipping");
            return;
        };
        assert_eq!(lookup(&by_name.uid.to_string()).ok(), Some(by_name));
    }
}
