//! A client of the host's stream over its socket (`ao events --follow`, `ao status
//! --watch`, the terminal UI): blocking, one line at a time.

use super::hub::Resume;
use super::wire::{Hello, Line, VERSION};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a client has no stream.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No host listens for this `$AO_HOME` (none runs, or one that was killed left its
    /// socket).
    #[error("no host serves {0}")]
    NoHost(PathBuf),
    /// The socket's directory is not private, so it is not trusted.
    #[error("the stream's directory {dir} is not private to this user: {why}")]
    NotPrivate {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The host refused this client.
    #[error("the host refused the stream: {message}")]
    Refused {
        /// Its words.
        message: String,
        /// What to do.
        hint: Option<String>,
    },
    /// The host sent a line this ao cannot read.
    #[error("the host sent a line this ao cannot read ({why}): {line}")]
    Unreadable {
        /// The line, cut at 200 characters.
        line: String,
        /// Why.
        why: String,
    },
    /// Reading or writing the socket failed.
    #[error("the host's stream failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What one read gave.
#[derive(Debug)]
pub enum Received {
    /// A line.
    Line(Line),
    /// Nothing within the time-out set by [`Client::set_timeout`].
    Idle,
    /// The host closed the stream: it stopped.
    Closed,
}

/// A connection to the host's stream.
pub struct Client {
    reader: BufReader<UnixStream>,
    /// A line read in part before a time-out.
    partial: Vec<u8>,
}

impl Client {
    /// Connects to the host of `home` and says hello, resuming from `resume` if given.
    pub fn connect(home: &Path, resume: Option<&Resume>) -> Result<Client, ClientError> {
        let path = super::socket::socket_path(home);
        let in_home = std::fs::canonicalize(home).is_ok_and(|h| path.parent() == Some(h.as_path()));
        if !in_home && let Some(dir) = path.parent() {
            if !dir.exists() {
                return Err(ClientError::NoHost(home.to_owned()));
            }
            super::socket::check_private(dir).map_err(|why| ClientError::NotPrivate {
                dir: dir.to_owned(),
                why,
            })?;
        }
        let mut stream = match UnixStream::connect(&path) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NoHost(home.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let hello = Hello {
            v: VERSION,
            resume: resume.cloned(),
        };
        let mut line = serde_json::to_string(&hello).expect("plain data serializes");
        line.push('\n');
        stream.write_all(line.as_bytes())?;
        Ok(Client {
            reader: BufReader::new(stream),
            partial: Vec::new(),
        })
    }

    /// How long [`Client::read`] waits before it returns [`Received::Idle`]; `None`
    /// waits for ever.
    pub fn set_timeout(&self, within: Option<Duration>) -> Result<(), ClientError> {
        Ok(self.reader.get_ref().set_read_timeout(within)?)
    }

    /// Whether a line is already buffered, so a viewer can apply it before it redraws.
    pub fn has_buffered(&self) -> bool {
        !self.reader.buffer().is_empty()
    }

    /// The next line from the host. An `error` line is [`ClientError::Refused`].
    pub fn read(&mut self) -> Result<Received, ClientError> {
        match self.reader.read_until(b'\n', &mut self.partial) {
            Ok(0) => return Ok(Received::Closed),
            Ok(_) if !self.partial.ends_with(b"\n") => return Ok(Received::Closed),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Received::Idle);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Ok(Received::Closed);
            }
            Err(e) => return Err(e.into()),
        }
        let bytes = std::mem::take(&mut self.partial);
        let line = match serde_json::from_slice::<Line>(&bytes) {
            Ok(l) => l,
            Err(e) => {
                let text = String::from_utf8_lossy(&bytes);
                return Err(ClientError::Unreadable {
                    line: text.trim_end().chars().take(200).collect(),
                    why: e.to_string(),
                });
            }
        };
        match line {
            Line::Error { message, hint, .. } => Err(ClientError::Refused { message, hint }),
            line => Ok(Received::Line(line)),
        }
    }
}
