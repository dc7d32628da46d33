//! Retention policies: which snapshots to keep, with restic's `forget` semantics.
//!
//! Snapshots are taken newest first, in groups (a database's snapshots). `keep_last = n` keeps the n newest;
//! `keep_daily = n` keeps, for each of the n most recent days that have snapshots, the newest of that day;
//! `keep_weekly` does the same per ISO week, `keep_monthly` per calendar month. A snapshot any rule keeps is
//! kept; the others are dropped. Days, weeks and months are those of the backup timestamp (UTC).

use std::fmt;

use crate::{Error, ErrorKind, Result};

/// How many snapshots each rule keeps (0: the rule is not used).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The newest n.
    pub last: u32,
    /// The newest of each of the n most recent days with snapshots.
    pub daily: u32,
    /// The newest of each of the n most recent ISO weeks with snapshots.
    pub weekly: u32,
    /// The newest of each of the n most recent months with snapshots.
    pub monthly: u32,
}

const RULES: [&str; 4] = ["keep_last", "keep_daily", "keep_weekly", "keep_monthly"];

impl RetentionPolicy {
    /// Parses `keep_last=7,keep_daily=7,keep_weekly=4,keep_monthly=12` (any of them, each once, in any order).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] naming the part that is wrong: an unknown rule, a count that is not a
    /// whole number of at least 1, a rule given twice, or no rule at all.
    pub fn parse(text: &str) -> Result<RetentionPolicy> {
        let bad = |what: String| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "retention policy {text:?}: {what} (rules: {}, e.g. keep_last=7,keep_daily=7)",
                    RULES.join(", ")
                ),
            )
        };
        let mut p = RetentionPolicy::default();
        let mut seen = Vec::new();
        for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (rule, n) = part.split_once('=').ok_or_else(|| bad(format!("{part:?} is not rule=count")))?;
            let (rule, n) = (rule.trim(), n.trim());
            let count: u32 = n
                .parse()
                .ok()
                .filter(|&c| c >= 1)
                .ok_or_else(|| bad(format!("{rule}: {n:?} is not a count of 1 or more")))?;
            let slot = match rule {
                "keep_last" => &mut p.last,
                "keep_daily" => &mut p.daily,
                "keep_weekly" => &mut p.weekly,
                "keep_monthly" => &mut p.monthly,
                other => return Err(bad(format!("unknown rule {other:?}"))),
            };
            if seen.contains(&rule) {
                return Err(bad(format!("{rule} is given twice")));
            }
            seen.push(rule);
            *slot = count;
        }
        if p.is_empty() {
            return Err(bad("no rule: a policy that keeps nothing would drop every snapshot".into()));
        }
        Ok(p)
    }

    /// Whether no rule is set (such a policy would keep nothing).
    pub fn is_empty(&self) -> bool {
        *self == RetentionPolicy::default()
    }

    /// Decides, for one group of snapshots given by their backup timestamps (`yyyy-MM-dd-HH-mm-ss`, any order),
    /// which to keep: one [`Decision`] per timestamp, newest first. Of two equal timestamps, the later one in
    /// `timestamps` counts as the newer.
    ///
    /// # Errors
    /// A timestamp that is not of that form (named); an empty policy.
    pub fn select(&self, timestamps: &[&str]) -> Result<Vec<Decision>> {
        if self.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "an empty retention policy would drop every snapshot"));
        }
        let mut order: Vec<(usize, &str, (i64, u32, u32))> =
            timestamps.iter().enumerate().map(|(i, t)| Ok((i, *t, civil(t)?))).collect::<Result<_>>()?;
        order.sort_by(|a, b| (b.1, b.0).cmp(&(a.1, a.0)));
        let mut rules: [(u32, Option<i64>, &'static str); 4] = [
            (self.last, None, "last"),
            (self.daily, None, "daily"),
            (self.weekly, None, "weekly"),
            (self.monthly, None, "monthly"),
        ];
        let mut out = Vec::with_capacity(order.len());
        for (nr, (index, t, (y, m, d))) in order.into_iter().enumerate() {
            let buckets =
                [nr as i64, y * 10_000 + i64::from(m) * 100 + i64::from(d), iso_week(y, m, d), y * 100 + i64::from(m)];
            let mut reasons = Vec::new();
            for (rule, bucket) in rules.iter_mut().zip(buckets) {
                if rule.0 > 0 && rule.1 != Some(bucket) {
                    rule.1 = Some(bucket);
                    rule.0 -= 1;
                    reasons.push(rule.2);
                }
            }
            out.push(Decision { index, timestamp: t.to_owned(), keep: !reasons.is_empty(), reasons });
        }
        Ok(out)
    }
}

impl fmt::Display for RetentionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = RULES
            .iter()
            .zip([self.last, self.daily, self.weekly, self.monthly])
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// What a policy decided for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The snapshot's position in the timestamps given.
    pub index: usize,
    /// The snapshot's backup timestamp.
    pub timestamp: String,
    /// Whether it is kept.
    pub keep: bool,
    /// The rules that keep it (`last`, `daily`, `weekly`, `monthly`); empty when dropped.
    pub reasons: Vec<&'static str>,
}

/// The date of a `yyyy-MM-dd-HH-mm-ss` timestamp.
fn civil(t: &str) -> Result<(i64, u32, u32)> {
    let bad = || Error::new(ErrorKind::Format, format!("snapshot timestamp {t:?} is not yyyy-MM-dd-HH-mm-ss"));
    let parts: Vec<&str> = t.split('-').collect();
    if parts.len() != 6 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let (y, m, d) = (
        parts[0].parse().map_err(|_| bad())?,
        parts[1].parse().map_err(|_| bad())?,
        parts[2].parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok((y, m, d))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The ISO week of a date, as `iso_year * 100 + week`.
fn iso_week(y: i64, m: u32, d: u32) -> i64 {
    let n = days(y, m, d);
    let weekday = (n + 3).rem_euclid(7); // Monday = 0 (1970-01-01 was a Thursday)
    let thursday = n - weekday + 3;
    // The ISO year is the year of that week's Thursday; its week 1 holds the year's first Thursday.
    let iso_year = (y - 1..=y + 1).rev().find(|&cand| days(cand, 1, 1) <= thursday).unwrap_or(y);
    iso_year * 100 + (thursday - days(iso_year, 1, 1)) / 7 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(p: &str, ts: &[&str]) -> Vec<String> {
        let d = RetentionPolicy::parse(p).unwrap().select(ts).unwrap();
        d.into_iter().filter(|d| d.keep).map(|d| d.timestamp).collect()
    }

    #[test]
    fn iso_weeks_match_the_calendar() {
        assert_eq!(iso_week(2021, 1, 3), 202_053); // a Sunday in 2020's last week
        assert_eq!(iso_week(2021, 1, 4), 202_101);
        assert_eq!(iso_week(2024, 12, 30), 202_501);
        assert_eq!(iso_week(2026, 1, 1), 202_601);
        assert_eq!(days(1970, 1, 1), 0);
        assert_eq!(days(2000, 3, 1), 11_017);
    }

    #[test]
    fn keep_last_keeps_the_newest() {
        let ts = ["2024-01-01-00-00-00", "2024-01-03-00-00-00", "2024-01-02-00-00-00"];
        assert_eq!(kept("keep_last=2", &ts), ["2024-01-03-00-00-00", "2024-01-02-00-00-00"]);
        assert_eq!(kept("keep_last=9", &ts).len(), 3);
        // Equal timestamps: the later one given is the newer.
        let d = RetentionPolicy::parse("keep_last=1").unwrap().select(&["2024-01-01-00-00-00"; 3]).unwrap();
        assert_eq!(d.iter().map(|d| (d.index, d.keep)).collect::<Vec<_>>(), [(2, true), (1, false), (0, false)]);
    }

    #[test]
    fn keep_daily_keeps_the_newest_of_each_recent_day() {
        let ts = [
            "2024-03-10-23-00-00",
            "2024-03-10-08-00-00",
            "2024-03-09-12-00-00",
            "2024-03-07-01-00-00",
            "2024-03-07-00-30-00",
        ];
        // Days with snapshots, not calendar days: the 8th has none and does not count.
        assert_eq!(kept("keep_daily=3", &ts), ["2024-03-10-23-00-00", "2024-03-09-12-00-00", "2024-03-07-01-00-00"]);
        assert_eq!(kept("keep_daily=1", &ts), ["2024-03-10-23-00-00"]);
    }

    #[test]
    fn weekly_and_monthly_use_iso_weeks_and_months_and_rules_add_up() {
        let ts = [
            "2024-02-01-00-00-00", // Thursday, week 5
            "2024-01-29-00-00-00", // Monday, week 5
            "2024-01-28-00-00-00", // Sunday, week 4
            "2024-01-15-00-00-00", // week 3
            "2023-12-31-00-00-00", // Sunday, week 2023-52
        ];
        assert_eq!(kept("keep_weekly=2", &ts), ["2024-02-01-00-00-00", "2024-01-28-00-00-00"]);
        assert_eq!(kept("keep_monthly=3", &ts), ["2024-02-01-00-00-00", "2024-01-29-00-00-00", "2023-12-31-00-00-00"]);
        let d = RetentionPolicy::parse("keep_last=1,keep_weekly=2").unwrap().select(&ts).unwrap();
        assert_eq!(d[0].reasons, ["last", "weekly"]);
        assert_eq!((d[1].keep, d[2].keep, d[2].reasons.clone()), (false, true, vec!["weekly"]));
    }

    #[test]
    fn policies_parse_strictly_and_print_back() {
        let p = RetentionPolicy::parse(" keep_weekly=4 , keep_last=7").unwrap();
        assert_eq!(p, RetentionPolicy { last: 7, weekly: 4, ..Default::default() });
        assert_eq!(p.to_string(), "keep_last=7,keep_weekly=4");
        for bad in ["", "keep_last=0", "keep_last=x", "keep_last", "keep_yearly=1", "keep_last=1,keep_last=2"] {
            let e = RetentionPolicy::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().contains("retention policy"), "{e}");
        }
        assert!(RetentionPolicy::parse("keep_last=1").unwrap().select(&["2024-13-01-00-00-00"]).is_err());
    }
}
