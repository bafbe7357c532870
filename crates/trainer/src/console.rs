//! Lines to standard output. A closed stdout (`trainer predict ... | head -1`) ends a command
//! quietly, as ripgrep does, instead of the panic `println!` gives.

use std::io::Write;

use crate::error::Error;

/// Writes one line to stdout; a closed pipe is [`Error::StdoutClosed`], which `main` treats
/// as a normal end.
pub fn line(text: impl std::fmt::Display) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Error::StdoutClosed,
            _ => Error::io("standard output")(e),
        })
}

/// Like [`line`] for progress while training: a closed stdout only silences it, since the run's
/// files, not its log, are what training is for.
pub fn progress(text: impl std::fmt::Display) {
    let _ = line(text);
}

/// One line to stderr: warnings, notes and progress that is not the command's output. Every
/// line the library writes to stderr goes through here (stdout lines through [`line`]).
pub fn note(text: impl std::fmt::Display) {
    eprintln!("{text}");
}
