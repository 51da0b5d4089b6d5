//! Reading the inputs file: a JSON array whose items are kept as borrowed
//! raw JSON, never re-parsed or copied before they are sent.

use std::io::Read;
use std::path::Path;

use serde_json::value::RawValue;

use super::CliError;

/// Reads `path` (`-` is standard input) whole.
pub(super) fn read(path: &Path) -> Result<String, CliError> {
    let shown = path.display();
    let mut text = String::new();
    let result = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(drop)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)).map(drop)
    };
    result.map_err(|e| CliError::Usage(format!("{shown}: cannot read inputs: {e}")))?;
    Ok(text)
}

/// Splits the JSON array in `text` into its items; `starmap` requires each
/// to be an array too. Errors name the file, and the line and column or the item.
pub(super) fn items<'a>(text: &'a str, path: &Path, starmap: bool) -> Result<Vec<&'a RawValue>, CliError> {
    let shown = path.display();
    let first = text.trim_start().chars().next();
    if first != Some('[') {
        let found = match first {
            None => "nothing".to_string(),
            Some('{') => "an object".to_string(),
            Some(c) => format!("`{c}`"),
        };
        return Err(CliError::Usage(format!("{shown}: the inputs must be a JSON array of items, found {found}")));
    }
    let items: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|e| CliError::Usage(format!("{shown}: invalid JSON: {e}")))?;
    if starmap && let Some((index, item)) = items.iter().enumerate().find(|(_, item)| !item.get().starts_with('[')) {
        return Err(CliError::Usage(format!(
            "{shown}: item {index} is `{}`, but a starmap item must be the array of the call's arguments",
            item.get()
        )));
    }
    Ok(items)
}
