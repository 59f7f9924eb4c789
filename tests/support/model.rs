//! A scripted model server on loopback. It speaks enough of the Anthropic Messages API
//! (streaming and not), the OpenAI Responses API, the OpenAI Chat Completions API and the
//! Gemini API (`generateContent` and `streamGenerateContent`) for
//! the real agent CLIs to run against it through their base-URL settings, and replays a
//! scenario: text answers, tool calls (run a shell command, write a file), long streaming
//! turns held open until the test releases them, and errors.
//!
//! A request *takes a step* when it is a main request (it offers tools, or the scenario
//! says tools are not required) and the step's `when` text, if any, appears in its body.
//! Steps are taken in order; any other request (titles, quota checks, commit messages,
//! a CLI's background agents) gets the scenario's `side_text`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One scripted response.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Take this step only when the request's body contains this text.
    #[serde(default)]
    pub when: Option<String>,
    /// Answer with this text.
    #[serde(default)]
    pub text: Option<String>,
    /// Call the CLI's shell tool with this command.
    #[serde(default)]
    pub shell: Option<String>,
    /// With `shell`: ask to run it outside the CLI's sandbox, with this justification,
    /// where the shell tool takes such a request (Codex), so the CLI asks its user.
    #[serde(default)]
    pub escalate: Option<String>,
    /// Call the CLI's file-writing tool: `[path, content]`.
    #[serde(default)]
    pub write: Option<(String, String)>,
    /// Fail with this HTTP status and message.
    #[serde(default)]
    pub error: Option<(u16, String)>,
    /// Refuse as the provider does when the account's usage limit is reached: HTTP 429
    /// with the provider's error body and its reset headers, the limit lifting this
    /// many seconds from now.
    #[serde(default)]
    pub limit: Option<u64>,
    /// With `limit`, for the OpenAI APIs: also the usage headers a ChatGPT plan sends
    /// (`x-codex-primary-*`), on which Codex offers a cheaper model.
    #[serde(default)]
    pub limit_usage_headers: bool,
    /// Keep the stream open, sending a token every 100 ms, until `release()`.
    #[serde(default)]
    pub hold: bool,
    /// Pause this long between streamed words.
    #[serde(default)]
    pub chunk_delay_ms: u64,
}

/// A scenario: the steps, in order.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The steps.
    pub steps: Vec<Step>,
    /// The answer to requests that take no step.
    #[serde(default)]
    pub side_text: Option<String>,
    /// Requests without tools may take steps too (for CLIs that edit through text).
    #[serde(default)]
    pub tools_optional: bool,
}

impl Scenario {
    /// Reads a scenario from a JSON file.
    pub fn load(path: &Path) -> Scenario {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The path, e.g. `/v1/messages`.
    pub path: String,
    /// The body as JSON (`Null` if it was not JSON).
    pub body: Value,
    /// The step it took, if any.
    pub step: Option<usize>,
}

#[derive(Default)]
struct State {
    next: usize,
    requests: Vec<Request>,
    released: usize,
    holds_started: usize,
    /// When each completed step's last token was written.
    finished: Vec<(usize, SystemTime)>,
}

struct Shared {
    scenario: Mutex<Scenario>,
    state: Mutex<State>,
    changed: Condvar,
}

/// A running server; it stops when dropped (its thread is detached and idle).
pub struct ModelServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Shared>,
}

impl ModelServer {
    /// Starts a server replaying `scenario` on a free loopback port.
    pub fn start(scenario: Scenario) -> ModelServer {
        Self::start_on("127.0.0.1:0", scenario)
    }

    /// Starts a server on `addr`.
    pub fn start_on(addr: &str, scenario: Scenario) -> ModelServer {
        let listener = TcpListener::bind(addr).expect("bind the model server");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            scenario: Mutex::new(scenario),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &s);
                });
            }
        });
        ModelServer { url, shared }
    }

    /// Replaces the scenario and starts again from its first step.
    pub fn reset(&self, scenario: Scenario) {
        *self.shared.scenario.lock().unwrap() = scenario;
        let mut st = self.shared.state.lock().unwrap();
        st.next = 0;
        st.finished.clear();
        st.released = st.holds_started;
    }

    /// Lets the oldest held stream finish.
    pub fn release(&self) {
        self.shared.state.lock().unwrap().released += 1;
        self.shared.changed.notify_all();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// How many steps have been taken.
    pub fn steps_taken(&self) -> usize {
        self.shared.state.lock().unwrap().next
    }

    /// When step `i`'s last token was written, once it has been.
    pub fn finished_at(&self, i: usize) -> Option<SystemTime> {
        let st = self.shared.state.lock().unwrap();
        st.finished.iter().find(|(s, _)| *s == i).map(|(_, t)| *t)
    }

    /// Waits (at most `timeout`) until a held stream has started.
    pub fn wait_hold(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state.lock().unwrap();
        while st.holds_started <= st.released {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self.shared.changed.wait_timeout(st, left).unwrap().0;
        }
        true
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        // Finish any held stream so no client hangs on a dead test.
        self.shared.state.lock().unwrap().released = usize::MAX / 2;
        self.shared.changed.notify_all();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    Anthropic,
    Responses,
    Chat,
    Gemini,
}

fn serve(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut length = 0usize;
        let mut chunked = false;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
                    _ => {}
                }
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)?
        } else {
            let mut b = vec![0; length];
            reader.read_exact(&mut b)?;
            b
        };
        let mut out = conn.try_clone()?;
        let keep = respond(&mut out, shared, &method, &path, &headers, &body)?;
        if !keep {
            return Ok(());
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let n =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        let mut chunk = vec![0; n + 2];
        reader.read_exact(&mut chunk)?;
        if n == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// Answers one request; returns whether the connection stays open.
fn respond(
    out: &mut TcpStream,
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<bool> {
    let path_only = path.split('?').next().unwrap_or(path);
    if headers
        .iter()
        .any(|(k, v)| k == "upgrade" && v.eq_ignore_ascii_case("websocket"))
    {
        // No websockets here: "426 Upgrade Required" tells a CLI to stream over HTTP.
        write_json(
            out,
            426,
            &json!({"error": {"message": "use HTTP streaming"}}),
        )?;
        return Ok(false);
    }
    if method != "POST" {
        return answer_other(out, method, path_only);
    }
    if path_only.ends_with(":countTokens") {
        write_json(out, 200, &json!({"totalTokens": 42}))?;
        return Ok(false);
    }
    let api = if path_only.ends_with(":streamGenerateContent")
        || path_only.ends_with(":generateContent")
    {
        Api::Gemini
    } else if path_only.ends_with("/messages") {
        Api::Anthropic
    } else if path_only.ends_with("/responses") {
        Api::Responses
    } else if path_only.ends_with("/chat/completions") {
        Api::Chat
    } else {
        return answer_other(out, method, path_only);
    };
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let stream = match api {
        Api::Gemini => path_only.ends_with(":streamGenerateContent"),
        _ => request["stream"].as_bool().unwrap_or(false),
    };
    let scenario = shared.scenario.lock().unwrap().clone();
    // A request for structured output (a title, a summary, a check of who speaks next)
    // is a side request.
    let generation = &request["generationConfig"];
    let schema = [
        &request["text"]["format"]["schema"],
        &generation["responseJsonSchema"],
        &generation["responseSchema"],
    ]
    .into_iter()
    .find(|s| s.is_object())
    .unwrap_or(&Value::Null);
    let text = String::from_utf8_lossy(body);
    let has_tools =
        !all_tools(&request).is_empty() && !schema.is_object() && !background_agent(&text);
    let (step_index, step) = {
        let mut st = shared.state.lock().unwrap();
        let taken = scenario.steps.get(st.next).filter(|s| {
            (has_tools || scenario.tools_optional)
                && s.when.as_deref().is_none_or(|w| text.contains(w))
        });
        let found = taken.map(|s| (Some(st.next), s.clone()));
        if found.is_some() {
            st.next += 1;
        }
        st.requests.push(Request {
            method: method.to_owned(),
            headers: headers.to_vec(),
            path: path_only.to_owned(),
            body: request.clone(),
            step: found.as_ref().and_then(|f| f.0),
        });
        found.unwrap_or_else(|| {
            (
                None,
                Step {
                    text: Some(if schema.is_object() {
                        schema_example(schema).to_string()
                    } else {
                        scenario.side_text.clone().unwrap_or_else(|| "OK".into())
                    }),
                    ..Step::default()
                },
            )
        })
    };
    if let Some(secs) = step.limit {
        let reset = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + secs;
        let (body, headers) = match api {
            Api::Anthropic => (
                json!({"type": "error", "error": {"type": "rate_limit_error", "message": "This request would exceed your account's rate limit. Please try again later."}}),
                vec![
                    ("retry-after".to_owned(), secs.to_string()),
                    (
                        "anthropic-ratelimit-unified-status".to_owned(),
                        "rejected".to_owned(),
                    ),
                    (
                        "anthropic-ratelimit-unified-reset".to_owned(),
                        reset.to_string(),
                    ),
                    (
                        "anthropic-ratelimit-unified-representative-claim".to_owned(),
                        "five_hour".to_owned(),
                    ),
                    (
                        "anthropic-ratelimit-unified-5h-status".to_owned(),
                        "rejected".to_owned(),
                    ),
                    (
                        "anthropic-ratelimit-unified-5h-reset".to_owned(),
                        reset.to_string(),
                    ),
                ],
            ),
            Api::Gemini => (
                json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Resource has been exhausted (e.g. check quota).",
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{secs}s")}]}}),
                vec![("retry-after".to_owned(), secs.to_string())],
            ),
            _ => (
                json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus", "resets_at": reset, "resets_in_seconds": secs}}),
                {
                    let mut h = vec![("retry-after".to_owned(), secs.to_string())];
                    if step.limit_usage_headers {
                        h.push(("x-codex-primary-used-percent".to_owned(), "100".to_owned()));
                        h.push((
                            "x-codex-primary-reset-after-seconds".to_owned(),
                            secs.to_string(),
                        ));
                    }
                    h
                },
            ),
        };
        write_json_with(out, 429, &body, &headers)?;
        finish(shared, step_index);
        return Ok(false);
    }
    if let Some((status, message)) = &step.error {
        let body = match api {
            Api::Anthropic => {
                json!({"type": "error", "error": {"type": "api_error", "message": message}})
            }
            Api::Gemini => {
                json!({"error": {"code": status, "message": message, "status": "INTERNAL"}})
            }
            _ => json!({"error": {"message": message, "type": "server_error", "code": null}}),
        };
        write_json(out, *status, &body)?;
        finish(shared, step_index);
        return Ok(false);
    }
    let tool = step
        .shell
        .as_ref()
        .map(|c| shell_call(&request, c, step.escalate.as_deref()))
        .or_else(|| step.write.as_ref().map(|(p, c)| write_call(&request, p, c)));
    let model = match api {
        // `/v1beta/models/MODEL:streamGenerateContent`
        Api::Gemini => path_only
            .rsplit('/')
            .next()
            .and_then(|m| m.split(':').next())
            .unwrap_or("scripted")
            .to_owned(),
        _ => request["model"].as_str().unwrap_or("scripted").to_owned(),
    };
    let text = step.text.clone().unwrap_or_default();
    let mut sink = Sink::new(out, api, stream, model);
    sink.begin()?;
    if !text.is_empty() || (tool.is_none() && !step.hold) {
        sink.text_start()?;
        let words: Vec<&str> = text.split_inclusive(' ').collect();
        for w in &words {
            sink.text(w)?;
            if step.chunk_delay_ms > 0 {
                std::thread::sleep(Duration::from_millis(step.chunk_delay_ms));
            }
        }
        if step.hold {
            hold(shared, &mut sink)?;
        }
        sink.text_end()?;
    } else if step.hold {
        sink.text_start()?;
        hold(shared, &mut sink)?;
        sink.text_end()?;
    }
    if let Some((name, args)) = tool {
        sink.tool(&name, &args)?;
    }
    sink.end()?;
    finish(shared, step_index);
    Ok(false)
}

/// A small value that satisfies a JSON schema's required string and object properties.
fn schema_example(schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("object") => {
            let mut o = serde_json::Map::new();
            for (k, v) in schema["properties"].as_object().into_iter().flatten() {
                o.insert(k.clone(), schema_example(v));
            }
            Value::Object(o)
        }
        Some("array") => json!([]),
        Some("boolean") => json!(false),
        Some("number") | Some("integer") => json!(0),
        _ => json!("Scripted task"),
    }
}

fn hold(shared: &Shared, sink: &mut Sink<'_>) -> std::io::Result<()> {
    let ticket = {
        let mut st = shared.state.lock().unwrap();
        st.holds_started += 1;
        shared.changed.notify_all();
        st.holds_started
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        {
            let st = shared.state.lock().unwrap();
            let st = shared
                .changed
                .wait_timeout(st, Duration::from_millis(100))
                .unwrap()
                .0;
            if st.released >= ticket || Instant::now() > deadline {
                return Ok(());
            }
        }
        sink.text(".")?;
    }
}

fn finish(shared: &Shared, step: Option<usize>) {
    if let Some(i) = step {
        shared
            .state
            .lock()
            .unwrap()
            .finished
            .push((i, SystemTime::now()));
    }
}

/// Whether the request comes from one of a CLI's own background agents, which offer
/// tools but do no part of the task (Qwen Code's memory extraction after each turn).
fn background_agent(body: &str) -> bool {
    const MARKERS: &[&str] = &["You are now acting as the managed memory extraction subagent"];
    MARKERS.iter().any(|m| body.contains(m))
}

/// Every tool the request offers: its `tools`, tools announced in `additional_tools` input
/// items, and the members of tool namespaces.
fn all_tools(request: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for t in list.as_array().into_iter().flatten() {
            if t["tools"].is_array() {
                walk(&t["tools"], out);
            } else {
                out.push(t);
            }
        }
    }
    let mut out = Vec::new();
    walk(&request["tools"], &mut out);
    // The Gemini API's: `tools: [{functionDeclarations: [...]}]`.
    for t in request["tools"].as_array().into_iter().flatten() {
        out.extend(t["functionDeclarations"].as_array().into_iter().flatten());
    }
    out.retain(|t| !t["functionDeclarations"].is_array());
    for item in request["input"].as_array().into_iter().flatten() {
        if item["type"] == "additional_tools" {
            walk(&item["tools"], &mut out);
        }
    }
    out
}

/// The tool among the request's offered tools whose name is one of `names`.
fn offered<'a>(request: &'a Value, names: &[&str]) -> Option<&'a Value> {
    all_tools(request)
        .into_iter()
        .find(|t| names.contains(&tool_name(t).as_str()))
}

/// A JavaScript-orchestration tool (`exec` taking source text): the call runs `code`.
fn script_call(request: &Value, code: String) -> Option<(String, Value)> {
    let tool = offered(request, &["exec"])?;
    (tool["type"] == "custom").then(|| ("exec".to_owned(), Value::String(code)))
}

fn tool_name(t: &Value) -> String {
    t["name"]
        .as_str()
        .or_else(|| t["function"]["name"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn tool_params(t: &Value) -> &Value {
    for v in [
        &t["input_schema"],
        &t["parameters"],
        &t["parametersJsonSchema"],
        &t["function"]["parameters"],
    ] {
        if v.is_object() {
            return v;
        }
    }
    &Value::Null
}

/// A call of the CLI's shell tool, shaped by the tool's own parameter schema;
/// `escalate` asks to run it outside the sandbox with that justification.
fn shell_call(request: &Value, command: &str, escalate: Option<&str>) -> (String, Value) {
    let mut script_args = json!({"cmd": command});
    if let Some(why) = escalate {
        script_args["sandbox_permissions"] = json!("require_escalated");
        script_args["justification"] = json!(why);
    }
    let script = format!(
        "const r = await tools.exec_command({script_args});\ntext(r.output ?? JSON.stringify(r));"
    );
    if let Some(call) = script_call(request, script) {
        return call;
    }
    let names = [
        "Bash",
        "bash",
        "shell",
        "exec_command",
        "shell_command",
        "local_shell",
        "run_shell_command",
        "run_commands",
    ];
    let Some(tool) = offered(request, &names) else {
        return (
            "Bash".into(),
            json!({"command": command, "description": "Run a command"}),
        );
    };
    let name = tool_name(tool);
    let props = &tool_params(tool)["properties"];
    let mut args = serde_json::Map::new();
    for (key, value) in [
        ("command", "command"),
        ("cmd", "cmd"),
        ("commands", "commands"),
        ("description", "description"),
        ("workdir", "workdir"),
        ("sandbox_permissions", "sandbox_permissions"),
        ("justification", "justification"),
    ] {
        let schema = &props[key];
        if schema.is_null() {
            continue;
        }
        let v = match value {
            "sandbox_permissions" | "justification" if escalate.is_none() => continue,
            "sandbox_permissions" => json!("require_escalated"),
            "justification" => json!(escalate),
            "command" | "cmd" if schema["type"] == "array" => {
                json!(["bash", "-lc", command])
            }
            // A list of commands, each run through the shell.
            "commands" => json!([command]),
            "command" | "cmd" => json!(command),
            "description" => json!("Run a command"),
            _ => continue,
        };
        args.insert(key.to_owned(), v);
    }
    if args.is_empty() {
        args.insert("command".into(), json!(command));
    }
    (name, Value::Object(args))
}

/// A call of the CLI's file-writing tool.
fn write_call(request: &Value, path: &str, content: &str) -> (String, Value) {
    if let Some(tool) = offered(request, &["Write", "write", "write_file"]) {
        let props = &tool_params(tool)["properties"];
        let key = if props["filePath"].is_object() {
            "filePath"
        } else {
            "file_path"
        };
        return (tool_name(tool), json!({key: path, "content": content}));
    }
    let mut patch = format!("*** Begin Patch\n*** Add File: {path}\n");
    for line in content.lines() {
        patch.push_str(&format!("+{line}\n"));
    }
    patch.push_str("*** End Patch\n");
    let script = format!("text(await tools.apply_patch({}));", json!(patch));
    if let Some(call) = script_call(request, script) {
        return call;
    }
    if let Some(tool) = offered(request, &["apply_patch"]) {
        if tool["type"] == "custom" {
            return ("apply_patch".into(), Value::String(patch));
        }
        return ("apply_patch".into(), json!({"input": patch}));
    }
    // No writing tool: write through the shell.
    let command = format!(
        "cat > '{}' <<'SCRIPTED_EOF'\n{content}\nSCRIPTED_EOF",
        path.replace('\'', "")
    );
    shell_call(request, &command, None)
}

fn answer_other(out: &mut TcpStream, method: &str, path: &str) -> std::io::Result<bool> {
    let (status, value) = if path.ends_with("/count_tokens") {
        (200, json!({"input_tokens": 42}))
    } else if path.ends_with("/models") && method == "GET" {
        (
            200,
            json!({"object": "list", "data": [
                {"id": "scripted", "object": "model", "created": 0, "owned_by": "ao"}
            ], "models": []}),
        )
    } else {
        (
            404,
            json!({"error": {"message": format!("{path}: not scripted")}}),
        )
    };
    write_json(out, status, &value)?;
    Ok(false)
}

fn write_json(out: &mut TcpStream, status: u16, value: &Value) -> std::io::Result<()> {
    write_json_with(out, status, value, &[])
}

fn write_json_with(
    out: &mut TcpStream,
    status: u16,
    value: &Value,
    headers: &[(String, String)],
) -> std::io::Result<()> {
    let body = value.to_string();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        out,
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}",
        if status < 300 { "OK" } else { "Error" },
        body.len()
    )?;
    out.flush()
}

/// Writes one response in the request's API and mode, as events or as one JSON body.
struct Sink<'a> {
    out: &'a mut TcpStream,
    api: Api,
    stream: bool,
    model: String,
    id: String,
    created: u64,
    /// Anthropic content blocks so far (for the index and the non-streaming body).
    blocks: Vec<Value>,
    text: String,
    output_items: Vec<Value>,
    tool_calls: Vec<Value>,
}

impl<'a> Sink<'a> {
    fn new(out: &'a mut TcpStream, api: Api, stream: bool, model: String) -> Sink<'a> {
        let n = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        Sink {
            out,
            api,
            stream,
            model,
            id: format!("{:x}", n.as_nanos()),
            created: n.as_secs(),
            blocks: Vec::new(),
            text: String::new(),
            output_items: Vec::new(),
            tool_calls: Vec::new(),
        }
    }

    fn event(&mut self, name: Option<&str>, data: &Value) -> std::io::Result<()> {
        let mut s = String::new();
        if let Some(n) = name {
            s.push_str(&format!("event: {n}\n"));
        }
        s.push_str(&format!("data: {data}\n\n"));
        self.out.write_all(s.as_bytes())?;
        self.out.flush()
    }

    fn usage(&self) -> Value {
        match self.api {
            Api::Anthropic => json!({"input_tokens": 120, "output_tokens": 30,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}),
            Api::Responses => json!({"input_tokens": 120, "output_tokens": 30, "total_tokens": 150,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0}}),
            Api::Chat => {
                json!({"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150})
            }
            Api::Gemini => {
                json!({"promptTokenCount": 120, "candidatesTokenCount": 30, "totalTokenCount": 150})
            }
        }
    }

    /// One `GenerateContentResponse` of the Gemini API: these parts, and the finish
    /// reason on the last one.
    fn gemini_chunk(&self, parts: Vec<Value>, finish: bool) -> Value {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if finish {
            candidate["finishReason"] = json!("STOP");
        }
        json!({"candidates": [candidate], "usageMetadata": self.usage(),
            "modelVersion": self.model, "responseId": self.id})
    }

    fn begin(&mut self) -> std::io::Result<()> {
        if !self.stream {
            return Ok(());
        }
        write!(
            self.out,
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
        )?;
        match self.api {
            Api::Anthropic => {
                let msg = json!({"type": "message_start", "message": {
                    "id": format!("msg_{}", self.id), "type": "message", "role": "assistant",
                    "model": self.model, "content": [], "stop_reason": null,
                    "stop_sequence": null, "usage": {"input_tokens": 120, "output_tokens": 1,
                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}});
                self.event(Some("message_start"), &msg)
            }
            Api::Responses => {
                let r = self.response_object("in_progress", &[]);
                self.event(
                    Some("response.created"),
                    &json!({"type": "response.created", "sequence_number": 0, "response": r}),
                )?;
                self.event(
                    Some("response.in_progress"),
                    &json!({"type": "response.in_progress", "sequence_number": 1, "response": r}),
                )
            }
            Api::Chat | Api::Gemini => Ok(()),
        }
    }

    fn response_object(&self, status: &str, output: &[Value]) -> Value {
        json!({"id": format!("resp_{}", self.id), "object": "response",
            "created_at": self.created, "status": status, "model": self.model,
            "output": output, "usage": if status == "completed" { self.usage() } else { Value::Null },
            "error": null, "incomplete_details": null, "parallel_tool_calls": true,
            "tool_choice": "auto", "tools": []})
    }

    fn chat_chunk(&mut self, delta: Value, finish: Option<&str>) -> std::io::Result<()> {
        let chunk = json!({"id": format!("chatcmpl-{}", self.id), "object": "chat.completion.chunk",
            "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        self.event(None, &chunk)
    }

    fn text_start(&mut self) -> std::io::Result<()> {
        if !self.stream {
            return Ok(());
        }
        match self.api {
            Api::Anthropic => {
                let index = self.blocks.len();
                self.event(
                    Some("content_block_start"),
                    &json!({"type": "content_block_start", "index": index,
                        "content_block": {"type": "text", "text": ""}}),
                )
            }
            Api::Responses => {
                let index = self.output_items.len();
                let id = format!("msg_{}", self.id);
                self.event(
                    Some("response.output_item.added"),
                    &json!({
                    "type": "response.output_item.added", "output_index": index,
                    "item": {"type": "message", "id": id, "status": "in_progress",
                        "role": "assistant", "content": []}}),
                )?;
                self.event(
                    Some("response.content_part.added"),
                    &json!({
                    "type": "response.content_part.added", "item_id": id,
                    "output_index": index, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []}}),
                )
            }
            Api::Chat => self.chat_chunk(json!({"role": "assistant", "content": ""}), None),
            Api::Gemini => Ok(()),
        }
    }

    fn text(&mut self, t: &str) -> std::io::Result<()> {
        self.text.push_str(t);
        if !self.stream {
            return Ok(());
        }
        match self.api {
            Api::Anthropic => {
                let index = self.blocks.len();
                self.event(
                    Some("content_block_delta"),
                    &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": t}}),
                )
            }
            Api::Responses => {
                let index = self.output_items.len();
                let id = format!("msg_{}", self.id);
                self.event(
                    Some("response.output_text.delta"),
                    &json!({"type": "response.output_text.delta", "item_id": id,
                        "output_index": index, "content_index": 0, "delta": t}),
                )
            }
            Api::Chat => self.chat_chunk(json!({"content": t}), None),
            Api::Gemini => {
                let chunk = self.gemini_chunk(vec![json!({"text": t})], false);
                self.event(None, &chunk)
            }
        }
    }

    fn text_end(&mut self) -> std::io::Result<()> {
        let text = std::mem::take(&mut self.text);
        match self.api {
            Api::Anthropic => {
                let index = self.blocks.len();
                self.blocks.push(json!({"type": "text", "text": text}));
                if self.stream {
                    self.event(
                        Some("content_block_stop"),
                        &json!({"type": "content_block_stop", "index": index}),
                    )?;
                }
            }
            Api::Responses => {
                let index = self.output_items.len();
                let id = format!("msg_{}", self.id);
                let item = json!({"type": "message", "id": id, "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]});
                self.output_items.push(item.clone());
                if self.stream {
                    self.event(
                        Some("response.output_text.done"),
                        &json!({
                        "type": "response.output_text.done", "item_id": id,
                        "output_index": index, "content_index": 0, "text": text}),
                    )?;
                    self.event(
                        Some("response.output_item.done"),
                        &json!({"type": "response.output_item.done", "output_index": index,
                            "item": item}),
                    )?;
                }
            }
            Api::Chat => self.text = text,
            Api::Gemini => self.blocks.push(json!({"text": text})),
        }
        Ok(())
    }

    fn tool(&mut self, name: &str, args: &Value) -> std::io::Result<()> {
        let call_id = format!("call_{}", self.id);
        let arguments = args.to_string();
        match self.api {
            Api::Anthropic => {
                let index = self.blocks.len();
                let id = format!("toolu_{}", self.id);
                self.blocks
                    .push(json!({"type": "tool_use", "id": id, "name": name, "input": args}));
                if self.stream {
                    self.event(Some("content_block_start"), &json!({
                        "type": "content_block_start", "index": index,
                        "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}))?;
                    self.event(
                        Some("content_block_delta"),
                        &json!({
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": arguments}}),
                    )?;
                    self.event(
                        Some("content_block_stop"),
                        &json!({"type": "content_block_stop", "index": index}),
                    )?;
                }
            }
            Api::Responses => {
                let index = self.output_items.len();
                // A freeform ("custom") tool takes its input as a plain string.
                let item = match args.as_str() {
                    Some(input) => {
                        json!({"type": "custom_tool_call", "id": format!("ctc_{}", self.id),
                        "call_id": call_id, "name": name, "input": input, "status": "completed"})
                    }
                    None => json!({"type": "function_call", "id": format!("fc_{}", self.id),
                        "call_id": call_id, "name": name, "arguments": arguments,
                        "status": "completed"}),
                };
                self.output_items.push(item.clone());
                if self.stream {
                    self.event(
                        Some("response.output_item.added"),
                        &json!({"type": "response.output_item.added", "output_index": index,
                            "item": item}),
                    )?;
                    self.event(
                        Some("response.output_item.done"),
                        &json!({"type": "response.output_item.done", "output_index": index,
                            "item": item}),
                    )?;
                }
            }
            Api::Gemini => {
                let part = json!({"functionCall": {"name": name, "args": args}});
                self.blocks.push(part.clone());
                self.tool_calls.push(part.clone());
                if self.stream {
                    let chunk = self.gemini_chunk(vec![part], false);
                    self.event(None, &chunk)?;
                }
            }
            Api::Chat => {
                let call = json!({"index": 0, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": arguments}});
                self.tool_calls.push(call.clone());
                if self.stream {
                    self.chat_chunk(json!({"tool_calls": [call]}), None)?;
                }
            }
        }
        Ok(())
    }

    fn end(&mut self) -> std::io::Result<()> {
        let tool_used = !self.tool_calls.is_empty()
            || self.blocks.iter().any(|b| b["type"] == "tool_use")
            || self.output_items.iter().any(|i| i["type"] != "message");
        match (self.api, self.stream) {
            (Api::Anthropic, true) => {
                let stop = if tool_used { "tool_use" } else { "end_turn" };
                self.event(
                    Some("message_delta"),
                    &json!({"type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": null},
                        "usage": {"output_tokens": 30}}),
                )?;
                self.event(Some("message_stop"), &json!({"type": "message_stop"}))
            }
            (Api::Anthropic, false) => {
                let stop = if tool_used { "tool_use" } else { "end_turn" };
                let body = json!({"id": format!("msg_{}", self.id), "type": "message",
                    "role": "assistant", "model": self.model, "content": self.blocks,
                    "stop_reason": stop, "stop_sequence": null, "usage": self.usage()});
                write_json(self.out, 200, &body)
            }
            (Api::Responses, true) => {
                let r = self.response_object("completed", &self.output_items.clone());
                self.event(
                    Some("response.completed"),
                    &json!({"type": "response.completed", "response": r}),
                )
            }
            (Api::Responses, false) => {
                let r = self.response_object("completed", &self.output_items.clone());
                write_json(self.out, 200, &r)
            }
            (Api::Chat, true) => {
                let finish = if tool_used { "tool_calls" } else { "stop" };
                self.chat_chunk(json!({}), Some(finish))?;
                let usage = json!({"id": format!("chatcmpl-{}", self.id),
                    "object": "chat.completion.chunk", "created": self.created,
                    "model": self.model, "choices": [], "usage": self.usage()});
                self.event(None, &usage)?;
                self.out.write_all(b"data: [DONE]\n\n")?;
                self.out.flush()
            }
            (Api::Gemini, true) => {
                let chunk = self.gemini_chunk(vec![json!({"text": ""})], true);
                self.event(None, &chunk)
            }
            (Api::Gemini, false) => {
                let body = self.gemini_chunk(self.blocks.clone(), true);
                write_json(self.out, 200, &body)
            }
            (Api::Chat, false) => {
                let finish = if tool_used { "tool_calls" } else { "stop" };
                let mut message = json!({"role": "assistant", "content": self.text});
                if tool_used {
                    message["tool_calls"] = Value::Array(self.tool_calls.clone());
                }
                let body = json!({"id": format!("chatcmpl-{}", self.id),
                    "object": "chat.completion", "created": self.created,
                    "model": self.model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": self.usage()});
                write_json(self.out, 200, &body)
            }
        }
    }
}
