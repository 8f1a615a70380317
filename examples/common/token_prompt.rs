//! Reads a PagerDuty User API Token for the examples: from `PAGERDUTY_USER_API_TOKEN`, else from
//! the terminal without echo, else one line of standard input. The token goes straight into a
//! `SecretString`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

use secrecy::SecretString;

/// The token from `PAGERDUTY_USER_API_TOKEN`, else from the terminal without echo, else one line
/// of standard input.
pub fn read_token() -> Result<SecretString, String> {
    if let Ok(token) = std::env::var("PAGERDUTY_USER_API_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(SecretString::from(token));
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut line = String::new();
    {
        let _echo_off = if interactive {
            eprint!("PagerDuty User API Token (input hidden): ");
            let _ = std::io::stderr().flush();
            EchoOff::new()
        } else {
            None
        };
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|err| format!("cannot read the token: {err}"))?;
    }
    if interactive {
        // The user's Enter was not echoed.
        eprintln!();
    }
    // Trim in place: no second copy of the token is left behind.
    let len = line.trim_end_matches(['\r', '\n', ' ', '\t']).len();
    line.truncate(len);
    if line.trim().is_empty() {
        return Err(
            "no token given: set PAGERDUTY_USER_API_TOKEN or type the token when asked".to_owned(),
        );
    }
    Ok(SecretString::from(line))
}

/// Turns terminal echo off with `stty -echo` while alive; turns it back on when dropped.
struct EchoOff;

impl EchoOff {
    fn new() -> Option<Self> {
        stty("-echo").then_some(EchoOff)
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        stty("echo");
    }
}

/// Runs `stty <arg>` on the terminal behind standard input; false when that is not possible
/// (no `stty`, not a Unix terminal), in which case the token is read with echo.
fn stty(arg: &str) -> bool {
    Command::new("stty")
        .arg(arg)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
