//! The library example (`host/examples/embed.rs`) embeds the pool in its
//! own `main`, finding the worker program by itself.

use rpool_wasm_tests::{Cli, guests};

#[test]
fn the_embedding_example_runs() {
    // cargo builds examples next to the binaries, in `<target>/<profile>/examples`.
    let example = std::path::Path::new(crate::BIN).parent().unwrap().join("examples").join("embed");
    let out = Cli::new(&example).args([guests::TUTORIAL]).run();
    assert_eq!(
        out.success(),
        "map square: [1, 4, 9, 16, 25]\n\
         starmap power: [8, 81, 1024, 15625]\n\
         imap risky_task: Ok(0) Ok(1) Ok(4) Err(Cannot process 3) Ok(16)\n\
         apply_async compute: 6\n\
         initializer: [10, 20, 30, 40, 50]\n"
    );
}
