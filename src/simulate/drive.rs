//! Playing the plan against a server over HTTP, one request at a time in the plan's order:
//! the tablets' own state (what each loaded, its numbered saves waiting for a
//! connection), the simulator's record of every version, and the tally.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value as Json, json};

use super::day::{ADMIN, Act, Edit, Fate, Plan, SITES, Technician, Timed};
use super::form::{CHECKLIST, Form, Value, checklist_path, from_fields, to_fields};
use super::tally::{Answer, Tally, Verdict, judge, judge_replay};
use super::truth::{Expected, Record, Submission, Version, expect_create, expect_sync, naive};
use crate::server::clock::Clock;

/// Where the simulation sends its requests and as whom.
pub struct Target {
    pub base: String,
    /// Each person's own token (`sim-<name>`, the embedded server's users), or one token
    /// for everyone (a server the simulator did not configure).
    pub token: Option<String>,
    /// Put before every record id, so that a run leaves other records alone.
    pub prefix: String,
    /// The embedded server's clock, moved to each act's time.
    pub clock: Option<Clock>,
}

/// The token of each simulated person on the embedded server.
pub fn token_of(name: &str) -> String {
    format!("sim-{name}")
}

/// A form as a tablet holds it.
struct Copy {
    version: u64,
    form: Form,
    /// When the tablet loaded it, by the tablet's clock.
    loaded_at_by_device: i64,
}

/// A save waiting for a connection.
struct Pending {
    record: String,
    /// `None`: a create.
    base: Option<u64>,
    form: Form,
    device_seq: Option<u64>,
    invalid: bool,
    fate: Fate,
    captured_at: String,
    loaded_at_by_device: i64,
}

#[derive(Default)]
struct Tablet {
    seq: u64,
    copies: HashMap<String, Copy>,
    pending: Vec<Pending>,
}

struct Driver<'a> {
    http: reqwest::Client,
    target: &'a Target,
    technicians: &'a [Technician],
    tablets: Vec<Tablet>,
    records: HashMap<String, Record>,
    sites: BTreeSet<String>,
    /// The first answer to each device's numbered submission, by (device, seq).
    first_answers: HashMap<(String, u64), Answer>,
    tally: Tally,
    keys: u64,
    now: i64,
}

/// Plays `plan`; `progress` hears after each act. Faults only when the server cannot be
/// used at all (unreachable, refuses the setup); every answer is judged, never a fault.
pub async fn play(
    plan: &Plan,
    target: &Target,
    mut progress: impl FnMut(usize),
) -> Result<Tally, String> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut driver = Driver {
        http,
        target,
        technicians: &plan.technicians,
        tablets: plan.technicians.iter().map(|_| Tablet::default()).collect(),
        records: HashMap::new(),
        sites: BTreeSet::new(),
        first_answers: HashMap::new(),
        tally: Tally::default(),
        keys: 0,
        now: plan.acts.first().map_or(0, |t| t.at),
    };
    driver.set_up_sites().await?;
    for (done, timed) in plan.acts.iter().enumerate() {
        driver.act(timed).await?;
        progress(done + 1);
    }
    Ok(driver.tally)
}

fn blank_form(site: &str, at: &str) -> Form {
    let mut form = Form::new();
    form.insert("/site_id", Value::Text(site.into()));
    form.insert("/status", Value::Text("open".into()));
    form.insert("/notes", Value::Text(String::new()));
    form.insert("/temperature", Value::Number(20.0));
    if let Ok(at) = Value::instant(at.into()) {
        form.insert("/inspected_at", at);
    }
    for item in CHECKLIST {
        form.insert(checklist_path(item), Value::Flag(false));
    }
    form
}

/// `edits` applied to `form`; the inspection time is `now` as written by the editor.
fn edited(form: &Form, edits: &[Edit], now: &str) -> Form {
    let mut form = form.clone();
    for edit in edits {
        let (path, value) = match edit {
            Edit::Status(s) => ("/status", Value::Text((*s).into())),
            Edit::Notes(n) => ("/notes", Value::Text((*n).into())),
            Edit::Temperature(t) => ("/temperature", Value::Number(*t)),
            Edit::InspectedNow => match Value::instant(now.into()) {
                Ok(v) => ("/inspected_at", v),
                Err(_) => continue,
            },
            Edit::Tick(item) => (checklist_path(item), Value::Flag(true)),
        };
        form.insert(path, value);
    }
    form
}

/// An instant written as the server writes its own (UTC, milliseconds, `Z`).
fn utc_text(ms: i64) -> String {
    crate::model::UtcMillis::from_millis(ms)
        .map(|at| at.to_string())
        .unwrap_or_default()
}

impl Driver<'_> {
    fn token(&self, who: &str) -> String {
        self.target.token.clone().unwrap_or_else(|| token_of(who))
    }

    fn id(&self, record: &str) -> String {
        format!("{}{record}", self.target.prefix)
    }

    fn next_key(&mut self) -> String {
        self.keys += 1;
        format!("{}sim-{}", self.target.prefix, self.keys)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        who: &str,
        key: Option<&str>,
        if_match: Option<&str>,
        body: Option<&Json>,
    ) -> Result<Answer, String> {
        let url = format!("{}{path}", self.target.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.token(who));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("Idempotent-Replayed")
            .is_some_and(|v| v == "true");
        let raw = response
            .bytes()
            .await
            .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Json::Null);
        Ok(Answer {
            status,
            replayed,
            body,
            raw,
        })
    }

    /// The sites list holds the simulator's sites (beside any the server has).
    async fn set_up_sites(&mut self) -> Result<(), String> {
        let listed = self
            .send(
                reqwest::Method::GET,
                "/v1/master/sites",
                ADMIN,
                None,
                None,
                None,
            )
            .await?;
        let mut items: Vec<Json> = match listed.status {
            200 => listed.body["items"].as_array().cloned().unwrap_or_default(),
            _ => Vec::new(),
        };
        for site in SITES {
            if !items.iter().any(|i| i["id"] == site) {
                items.push(json!({"id": site, "label": format!("Site {site}")}));
            }
        }
        self.put_sites(items).await
    }

    async fn put_sites(&mut self, items: Vec<Json>) -> Result<(), String> {
        let key = self.next_key();
        let body = json!({ "items": items });
        let answer = self
            .send(
                reqwest::Method::PUT,
                "/v1/master/sites",
                ADMIN,
                Some(&key),
                None,
                Some(&body),
            )
            .await?;
        if answer.status != 200 {
            return Err(format!(
                "PUT /v1/master/sites answered {} (the simulator needs an admin's token): {}",
                answer.status,
                String::from_utf8_lossy(&answer.raw)
            ));
        }
        self.sites = items
            .iter()
            .filter_map(|i| i["id"].as_str().map(String::from))
            .collect();
        Ok(())
    }

    async fn act(&mut self, timed: &Timed) -> Result<(), String> {
        self.now = timed.at;
        if let Some(clock) = &self.target.clock {
            clock.set(
                crate::model::UtcMillis::from_millis(timed.at)
                    .unwrap_or_else(crate::model::UtcMillis::now),
            );
        }
        match &timed.act {
            Act::Office { record, site } => self.office(record, site).await,
            Act::Load { tech, record } => self.load(*tech, record).await,
            Act::Save {
                tech,
                record,
                edits,
                invalid,
                fate,
            } => {
                self.save(*tech, record, edits, *invalid, *fate);
                Ok(())
            }
            Act::Create {
                tech,
                record,
                site,
                edits,
                fate,
            } => {
                self.create_offline(*tech, record, site, edits, *fate);
                Ok(())
            }
            Act::Reconnect { tech, reversed } => self.reconnect(*tech, *reversed).await,
            Act::WebEdit {
                user,
                record,
                edits,
            } => self.web_edit(user, record, edits).await,
            Act::Delete { user, record } => self.delete(user, record).await,
            Act::RemoveSite { site } => {
                let items: Vec<Json> = self
                    .sites
                    .iter()
                    .filter(|s| s.as_str() != *site)
                    .map(|s| json!({"id": s, "label": format!("Site {s}")}))
                    .collect();
                self.put_sites(items).await
            }
        }
    }

    async fn office(&mut self, record: &str, site: &str) -> Result<(), String> {
        let form = blank_form(site, &utc_text(self.now));
        let key = self.next_key();
        let body =
            json!({"id": self.id(record), "fields": to_fields(&form), "device_id": "office"});
        let answer = self
            .send(
                reqwest::Method::POST,
                "/v1/inspections",
                ADMIN,
                Some(&key),
                None,
                Some(&body),
            )
            .await?;
        if answer.status != 201 {
            return Err(format!(
                "creating {} answered {} (the server needs the `inspections` type of `serve --demo`): {}",
                self.id(record),
                answer.status,
                String::from_utf8_lossy(&answer.raw)
            ));
        }
        let version = Version {
            form,
            user: ADMIN.into(),
            device: "office".into(),
            device_seq: None,
            at: self.now,
            deleted: false,
        };
        self.records.insert(
            record.to_string(),
            Record {
                versions: vec![version],
                answered: Default::default(),
            },
        );
        Ok(())
    }

    /// A record as the server answers it to `who`; `None` when it is deleted.
    async fn fetch(&self, who: &str, record: &str) -> Result<Option<(u64, Form)>, String> {
        let path = format!("/v1/inspections/{}", self.id(record));
        let answer = self
            .send(reqwest::Method::GET, &path, who, None, None, None)
            .await?;
        match answer.status {
            200 => {
                let version = answer.version().ok_or("a record without a version")?;
                let form = from_fields(&answer.body["fields"])?;
                Ok(Some((version, form)))
            }
            410 => Ok(None),
            status => Err(format!("GET {path} answered {status}")),
        }
    }

    /// The tablet shows every datetime again in its own zone.
    fn as_tablet_shows(tech: &Technician, mut form: Form) -> Form {
        if let Some(Value::Instant { at, .. }) = form.get("/inspected_at")
            && let Ok(v) = Value::instant(tech.render(*at))
        {
            form.insert("/inspected_at", v);
        }
        form
    }

    async fn load(&mut self, t: usize, record: &str) -> Result<(), String> {
        let tech = &self.technicians[t];
        if let Some((version, form)) = self.fetch(&tech.name, record).await? {
            let copy = Copy {
                version,
                form: Self::as_tablet_shows(tech, form),
                loaded_at_by_device: tech.clock(self.now).0,
            };
            self.tablets[t].copies.insert(record.to_string(), copy);
        }
        Ok(())
    }

    fn save(&mut self, t: usize, record: &str, edits: &[Edit], invalid: bool, fate: Fate) {
        let (_, now_text) = self.technicians[t].clock(self.now);
        let tablet = &mut self.tablets[t];
        let Some(copy) = tablet.copies.get_mut(record) else {
            return; // deleted before the tablet could load it
        };
        copy.form = edited(&copy.form, edits, &now_text);
        tablet.seq += 1;
        let pending = Pending {
            record: record.to_string(),
            base: Some(copy.version),
            form: copy.form.clone(),
            device_seq: (!invalid).then_some(tablet.seq),
            invalid,
            fate,
            captured_at: now_text,
            loaded_at_by_device: copy.loaded_at_by_device,
        };
        tablet.pending.push(pending);
    }

    fn create_offline(&mut self, t: usize, record: &str, site: &str, edits: &[Edit], fate: Fate) {
        let (believed, now_text) = self.technicians[t].clock(self.now);
        let form = edited(&blank_form(site, &now_text), edits, &now_text);
        self.tablets[t].pending.push(Pending {
            record: record.to_string(),
            base: None,
            form,
            device_seq: None,
            invalid: false,
            fate,
            captured_at: now_text,
            loaded_at_by_device: believed,
        });
    }

    async fn reconnect(&mut self, t: usize, reversed: bool) -> Result<(), String> {
        let mut pending = std::mem::take(&mut self.tablets[t].pending);
        if reversed {
            pending.reverse();
        }
        let mut after_restart = Vec::new();
        for p in pending {
            if let Some(resend) = self.submit(t, p).await? {
                after_restart.push(resend);
            }
        }
        for (p, body, what) in after_restart {
            let key = self.next_key();
            let (user, device) = self.person(t);
            self.send_judged(&user, &device, &p, &key, &body, &what)
                .await?;
        }
        Ok(())
    }

    fn person(&self, t: usize) -> (String, String) {
        let tech = &self.technicians[t];
        (tech.name.clone(), tech.device.clone())
    }

    fn body(&self, device: &str, p: &Pending) -> Json {
        let mut fields = to_fields(&p.form);
        if p.invalid {
            fields["temperature"] = json!("21,5");
        }
        let mut body = json!({
            "fields": fields,
            "device_id": device,
            "captured_at": p.captured_at,
        });
        match p.base {
            Some(base) => body["base_version"] = json!(base),
            None => body["id"] = json!(self.id(&p.record)),
        }
        if let Some(seq) = p.device_seq {
            body["device_seq"] = json!(seq);
        }
        body
    }

    /// What `p` should get now, and what the naive rules would do with it.
    fn expect(
        &self,
        user: &str,
        device: &str,
        p: &Pending,
    ) -> (Expected, super::truth::NaiveVerdicts, u64) {
        let record = self.records.get(&p.record);
        let version = record.map_or(0, Record::version);
        let expected = match (p.base, record) {
            (Some(base), Some(record)) => expect_sync(
                record,
                &Submission {
                    base,
                    form: &p.form,
                    user,
                    device,
                    device_seq: p.device_seq,
                    valid: !p.invalid,
                },
                &self.sites,
            ),
            (Some(_), None) => Expected::Invalid,
            (None, record) => expect_create(record, &p.form, !p.invalid, &self.sites),
        };
        let naive = naive(record, p.base, user, p.loaded_at_by_device);
        (expected, naive, version)
    }

    /// Sends one save; what the app must send again after a restart comes back.
    async fn submit(
        &mut self,
        t: usize,
        p: Pending,
    ) -> Result<Option<(Pending, Json, String)>, String> {
        let (user, device) = self.person(t);
        let body = self.body(&device, &p);
        let key = self.next_key();
        let what = format!(
            "{} {} by {user}",
            if p.base.is_some() { "sync" } else { "create" },
            p.record
        );
        let (first, truth) = self
            .send_judged(&user, &device, &p, &key, &body, &what)
            .await?;
        match p.fate {
            Fate::Answered => {}
            Fate::AnswerLost => {
                // The same request again: the device never saw the first answer.
                let record = self.records.get(&p.record);
                let naive = naive(record, p.base, &user, p.loaded_at_by_device);
                let path = self.path_of(&p);
                let again = self
                    .send(
                        self.method_of(&p),
                        &path,
                        &user,
                        Some(&key),
                        None,
                        Some(&body),
                    )
                    .await?;
                let verdict = judge_replay(&first, &again);
                let expected = match truth {
                    Expected::Again(before) => Expected::Again(before),
                    before => Expected::Again(Box::new(before)),
                };
                self.tally.count(
                    &format!("{what}, resent"),
                    &expected,
                    naive,
                    &again,
                    &verdict,
                );
            }
            Fate::Restarted => {
                self.after_answer(t, &p, &first);
                return Ok(Some((p, body, format!("{what}, after a restart"))));
            }
        }
        self.after_answer(t, &p, &first);
        Ok(None)
    }

    fn method_of(&self, p: &Pending) -> reqwest::Method {
        if p.base.is_some() {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        }
    }

    fn path_of(&self, p: &Pending) -> String {
        match p.base {
            Some(_) => format!("/v1/inspections/{}", self.id(&p.record)),
            None => "/v1/inspections".into(),
        }
    }

    /// Sends one submission, judges its answer and moves the simulator's record on.
    async fn send_judged(
        &mut self,
        user: &str,
        device: &str,
        p: &Pending,
        key: &str,
        body: &Json,
        what: &str,
    ) -> Result<(Answer, Expected), String> {
        let (expected, naive, version_before) = self.expect(user, device, p);
        let path = self.path_of(p);
        let answer = self
            .send(self.method_of(p), &path, user, Some(key), None, Some(body))
            .await?;
        let first = p
            .device_seq
            .and_then(|seq| self.first_answers.get(&(device.to_string(), seq)));
        let verdict = judge(&expected, &answer, version_before, first);
        self.tally.count(what, &expected, naive, &answer, &verdict);
        if let Some(seq) = p.device_seq {
            self.first_answers
                .entry((device.to_string(), seq))
                .or_insert_with(|| answer.clone());
        }
        self.record_outcome(user, device, p, &expected, &answer, &verdict);
        Ok((answer, expected))
    }

    /// The simulator's record follows the truth; where the server stored something else,
    /// it follows the server (the fault is counted once, not again on every later sync).
    fn record_outcome(
        &mut self,
        user: &str,
        device: &str,
        p: &Pending,
        expected: &Expected,
        answer: &Answer,
        verdict: &Verdict,
    ) {
        let stored = match expected {
            Expected::Created(form) | Expected::Applied(form) | Expected::Merged(form)
                if *verdict == Verdict::Right =>
            {
                Some(form.clone())
            }
            _ if matches!(answer.status, 200 | 201)
                && answer.version() > self.records.get(&p.record).map(Record::version) =>
            {
                from_fields(&answer.body["fields"]).ok()
            }
            _ => None,
        };
        let record = self.records.entry(p.record.clone()).or_default();
        if let Some(form) = stored {
            record.versions.push(Version {
                form,
                user: user.into(),
                device: device.into(),
                device_seq: p.device_seq,
                at: self.now,
                deleted: false,
            });
        }
        if let Some(seq) = p.device_seq
            && !matches!(expected, Expected::Again(_))
        {
            record
                .answered
                .entry((device.to_string(), seq))
                .or_insert_with(|| expected.clone());
        }
    }

    /// After a saved answer the tablet holds the server's record as its new base.
    fn after_answer(&mut self, t: usize, p: &Pending, answer: &Answer) {
        if !matches!(answer.status, 200 | 201) {
            return;
        }
        let (Some(version), Ok(form)) = (answer.version(), from_fields(&answer.body["fields"]))
        else {
            return;
        };
        let tech = &self.technicians[t];
        let copy = Copy {
            version,
            form: Self::as_tablet_shows(tech, form),
            loaded_at_by_device: tech.clock(self.now).0,
        };
        self.tablets[t].copies.insert(p.record.clone(), copy);
    }

    async fn web_edit(&mut self, user: &str, record: &str, edits: &[Edit]) -> Result<(), String> {
        let Some((version, form)) = self.fetch(user, record).await? else {
            return Ok(());
        };
        let device = format!("web-{user}");
        let p = Pending {
            record: record.to_string(),
            base: Some(version),
            form: edited(&form, edits, &utc_text(self.now)),
            device_seq: None,
            invalid: false,
            fate: Fate::Answered,
            captured_at: utc_text(self.now),
            loaded_at_by_device: self.now,
        };
        let body = self.body(&device, &p);
        let key = self.next_key();
        let what = format!("web edit of {record} by {user}");
        self.send_judged(user, &device, &p, &key, &body, &what)
            .await?;
        Ok(())
    }

    async fn delete(&mut self, user: &str, record: &str) -> Result<(), String> {
        let path = format!("/v1/inspections/{}", self.id(record));
        let current = self
            .send(reqwest::Method::GET, &path, user, None, None, None)
            .await?;
        if current.status != 200 {
            return Ok(());
        }
        let version = current.version().unwrap_or(0);
        let etag = format!(
            "\"{version}-{}\"",
            current.body["last_modified"].as_str().unwrap_or("")
        );
        let key = self.next_key();
        let answer = self
            .send(
                reqwest::Method::DELETE,
                &path,
                user,
                Some(&key),
                Some(&etag),
                None,
            )
            .await?;
        if answer.status != 200 {
            return Err(format!("DELETE {path} answered {}", answer.status));
        }
        let record = self.records.entry(record.to_string()).or_default();
        let form = record.current().map(|v| v.form.clone()).unwrap_or_default();
        record.versions.push(Version {
            form,
            user: user.into(),
            device: format!("web-{user}"),
            device_seq: None,
            at: self.now,
            deleted: true,
        });
        Ok(())
    }
}
