//! `rpool-wasm run`: one Pool call over the items of a JSON file.

use serde_json::value::RawValue;

use super::CliError;
use super::args::{Mode, RunArgs};
use super::input;
use super::output::Output;
use crate::{MapError, Pool, SubmitError, TaskError};

pub(super) fn run(args: RunArgs) -> Result<(), CliError> {
    let (mode, inputs) = args.mode();
    let text = input::read(inputs)?;
    let items = input::items(&text, inputs, mode == Mode::Starmap)?;

    let mut builder = Pool::builder(&args.task).retries(args.retries);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers as usize);
    }
    if let Some(init) = &args.init {
        builder = builder.initializer_json(init, args.init_args.as_deref().unwrap_or("[]"));
    }
    if let Some(max) = args.max_tasks_per_worker {
        builder = builder.max_tasks_per_worker(max as usize);
    }
    let pool = builder.build()?;
    let func_name = match &args.func {
        Some(name) => name.clone(),
        None => pool.default_func().map_err(|e| CliError::Usage(e.to_string()))?.to_string(),
    };
    let chunksize = match args.chunksize {
        Some(n) => n as usize,
        None => items.len().div_ceil(4 * pool.workers()).max(1),
    };
    let func = pool.func(&func_name).chunksize(chunksize);
    let mut out = Output::open(args.output.as_deref())?;

    match mode {
        Mode::Map | Mode::Starmap => {
            let results: Vec<Box<RawValue>> =
                if mode == Mode::Map { func.map(items) } else { func.starmap(items) }.map_err(map_error)?;
            out.write(b"[")?;
            for (i, result) in results.iter().enumerate() {
                if i > 0 {
                    out.write(b",")?;
                }
                out.write(result.get().as_bytes())?;
            }
            out.write(b"]\n")?;
        }
        Mode::Imap => {
            for result in func.imap::<_, Box<RawValue>>(items).map_err(submit_error)? {
                let result = result.map_err(CliError::Task)?;
                out.write(result.get().as_bytes())?;
                out.write(b"\n")?;
                out.flush()?;
            }
        }
        Mode::ImapUnordered => {
            for (index, result) in func.imap_unordered::<_, Box<RawValue>>(items).map_err(submit_error)? {
                let result = result.map_err(CliError::Task)?;
                out.write(format!("{{\"index\":{index},\"result\":{}}}\n", result.get()).as_bytes())?;
                out.flush()?;
            }
        }
    }
    out.commit()
}

fn submit_error(error: SubmitError) -> CliError {
    CliError::Usage(error.to_string())
}

fn map_error(error: MapError) -> CliError {
    match error {
        MapError::Submit(e) => submit_error(e),
        MapError::Task(TaskError::NotRun { reason, .. }) => CliError::Environment(reason),
        MapError::Task(e) => CliError::Task(e),
    }
}
