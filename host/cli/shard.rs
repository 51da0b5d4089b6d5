//! `run --shard I/N`: one part of a job for a batch scheduler (Slurm
//! arrays, Kubernetes Indexed Jobs) that already spreads work over
//! machines. Shard `I` of `N` runs the items whose index is `I` modulo `N`
//! (so a stream of any length splits without being counted first) and
//! writes them as `{"index": i, "result": r}` lines, then one closing
//! line, `{"shard": I, "of": N, "items": TOTAL}`, that tells `merge` the
//! part is whole and how many items the input had.

use super::CliError;

/// One shard of a job: `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// `--shard I/N`, or `--shard auto` with the scheduler's environment
    /// (`shards` is `--shards N`, for schedulers that give only an index).
    pub fn from_flag(flag: &str, shards: Option<usize>) -> Result<Shard, CliError> {
        let usage = |why: String| CliError::Usage(format!("--shard {flag}: {why}"));
        let shard = if flag == "auto" {
            auto(&|name| std::env::var(name).ok(), shards).map_err(usage)?
        } else {
            let (i, n) = flag.split_once('/').ok_or_else(|| usage("expected I/N (e.g. 0/4) or auto".into()))?;
            let number = |s: &str| s.trim().parse::<usize>().map_err(|_| usage(format!("`{s}` is not a number")));
            Shard { index: number(i)?, count: number(n)? }
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(usage(format!(
                "shard {} of {} does not exist (shards are numbered 0 to N-1)",
                shard.index, shard.count
            )));
        }
        Ok(shard)
    }

    /// Whether item `index` is this shard's.
    pub fn has(self, index: usize) -> bool {
        index % self.count == self.index
    }

    /// The closing line of a part, once the input's `items` were all read.
    pub fn trailer(self, items: usize) -> String {
        format!("{{\"shard\":{},\"of\":{},\"items\":{items}}}\n", self.index, self.count)
    }
}

/// The shard a scheduler's environment names: Slurm's array task (its id,
/// counted from `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`), or a
/// Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` of `--shards N`.
fn auto(env: &dyn Fn(&str) -> Option<String>, shards: Option<usize>) -> Result<Shard, String> {
    let number = |name: &str| -> Result<Option<usize>, String> {
        env(name).map(|v| v.trim().parse::<usize>().map_err(|_| format!("{name}={v:?} is not a number"))).transpose()
    };
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let count = match (shards, number("SLURM_ARRAY_TASK_COUNT")?) {
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => return Err("SLURM_ARRAY_TASK_COUNT is not set: pass --shards N".into()),
        };
        let index =
            id.checked_sub(min).ok_or_else(|| format!("SLURM_ARRAY_TASK_ID {id} is below the minimum {min}"))?;
        return Ok(Shard { index, count });
    }
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = shards.ok_or("JOB_COMPLETION_INDEX is set, but the number of shards is not: pass --shards N")?;
        return Ok(Shard { index, count });
    }
    Err("neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn explicit_shards() {
        assert_eq!(Shard::from_flag("1/4", None).unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "0/0", "x/2", "3", "-1/2"] {
            assert!(Shard::from_flag(bad, None).is_err(), "{bad}");
        }
        let shard = Shard { index: 1, count: 3 };
        assert_eq!((0..7).filter(|&i| shard.has(i)).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(shard.trailer(7), "{\"shard\":1,\"of\":3,\"items\":7}\n");
    }

    #[test]
    fn shards_from_the_schedulers_environment() {
        let slurm =
            env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
        assert_eq!(auto(&slurm, None).unwrap(), Shard { index: 2, count: 4 });
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2")]);
        assert_eq!(auto(&k8s, Some(5)).unwrap(), Shard { index: 2, count: 5 });
        assert!(auto(&k8s, None).unwrap_err().contains("pass --shards N"));
        assert!(auto(&env(&[]), None).unwrap_err().contains("neither"));
    }
}
