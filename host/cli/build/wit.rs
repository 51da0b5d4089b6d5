//! The WIT world `rpool:task/task` that Python and JavaScript components are
//! built for: copies of the repository's `wit/` (kept equal to it by a
//! test), with the WASI preview 2 packages it imports, which the
//! componentizers resolve from `deps/`.

use std::path::PathBuf;

use super::Job;
use crate::CliError;

/// (path under the WIT folder, contents).
const FILES: &[(&str, &str)] = &[
    ("rpool.wit", include_str!("../templates/wit/rpool.wit")),
    ("deps/cli/cli.wit", include_str!("../templates/wit/deps/cli/cli.wit")),
    ("deps/clocks/clocks.wit", include_str!("../templates/wit/deps/clocks/clocks.wit")),
    ("deps/filesystem/filesystem.wit", include_str!("../templates/wit/deps/filesystem/filesystem.wit")),
    ("deps/io/io.wit", include_str!("../templates/wit/deps/io/io.wit")),
    ("deps/random/random.wit", include_str!("../templates/wit/deps/random/random.wit")),
    ("deps/sockets/sockets.wit", include_str!("../templates/wit/deps/sockets/sockets.wit")),
];

/// The world's name in the package.
pub(super) const WORLD: &str = "task";

/// Writes the WIT folder into the build's SDK directory and returns its path.
pub(super) fn write(job: &Job) -> Result<PathBuf, CliError> {
    let dir = job.sdk.join("wit");
    job.write_files(&dir, FILES)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    /// Every file of the copy is embedded (the integration tests keep the
    /// copy equal to `wit/`), so that a package added there is not left out.
    #[test]
    fn every_wit_file_is_embedded() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>, root: &std::path::Path) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, found, root);
                } else {
                    found.push(path.strip_prefix(root).unwrap().to_str().unwrap().to_string());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cli/templates/wit");
        let mut found = Vec::new();
        walk(&root, &mut found, &root);
        found.sort();
        let mut embedded: Vec<String> = super::FILES.iter().map(|(path, _)| path.to_string()).collect();
        embedded.sort();
        assert_eq!(found, embedded, "host/cli/build/wit.rs embeds these files of host/cli/templates/wit");
    }
}
