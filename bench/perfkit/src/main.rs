//! Helper programs for `bench/run.sh` (not shipped). Every network call goes to the
//! endpoints of the configuration given, which the script points at a local emulator.
//!
//! ```text
//! perfkit csv-baseline FILE [--lean]   the same aggregation, written plainly with the csv crate
//!                                      (--lean: no order-id set and no SHA-256)
//! perfkit no-hash FILE                 our validation and numbers, without the SHA-256
//! perfkit bare-numbers FILE [--sha256] the least work the numbers take: no checks at all
//!                                      (--sha256: and the file's SHA-256, as the report needs)
//! perfkit seed CONFIG N ROWS FIRST     put N small days from day FIRST (0-based) and queue them
//! perfkit queue-loop CONFIG            plain client loop: receive 10, get file and ledger, put
//!                                      the three reports, update the index, delete batch
//! perfkit latency CONFIG N             SendMessage → report uploaded, with an engine running
//! perfkit ready N -- CMD ARGS…         time until CMD's first request is in flight
//! perfkit spawn N -- CMD ARGS…         time for CMD to run to its end (e.g. --version)
//! perfkit throttle PORT UPSTREAM MIBPS a TCP proxy on 127.0.0.1:PORT to 127.0.0.1:UPSTREAM
//!                                      that caps each connection's download at MIBPS MiB/s
//!                                      (one S3 connection's bandwidth, as on AWS)
//! ```
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use common::config::Config;
use sales_domain::sales::{Limits, SalesDate};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "csv-baseline" => csv_baseline(Path::new(arg(1)), arg(2) == "--lean"),
        "no-hash" => no_hash(Path::new(arg(1))),
        "bare-numbers" => bare_numbers(Path::new(arg(1)), arg(2) == "--sha256"),
        "seed" => {
            runtime()?.block_on(seed(arg(1), arg(2).parse()?, arg(3).parse()?, arg(4).parse()?))
        }
        "queue-loop" => runtime()?.block_on(queue_loop(arg(1))),
        "latency" => runtime()?.block_on(latency(arg(1), arg(2).parse()?)),
        "ready" => ready(arg(1).parse()?, command_after_dashes(&args)?),
        "spawn" => spawn(arg(1).parse()?, command_after_dashes(&args)?),
        "throttle" => {
            runtime()?.block_on(throttle(arg(1).parse()?, arg(2).parse()?, arg(3).parse()?))
        }
        other => bail!("unknown command {other:?}; see the source's header"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn command_after_dashes(args: &[String]) -> Result<&[String]> {
    match args.iter().position(|a| a == "--") {
        Some(i) if i + 1 < args.len() => Ok(&args[i + 1..]),
        _ => bail!("expected -- CMD ARGS…"),
    }
}

/// What a straightforward program does with the csv crate: one reused `ByteRecord`, a
/// std `HashMap` per key (looked up by bytes, a key allocated once), an exact `HashSet` of
/// order ids, UTF-8 checked per field, SHA-256 of the bytes as they are read. Prints the
/// totals and the counts.
fn csv_baseline(path: &Path, lean: bool) -> Result<()> {
    use sha2::{Digest, Sha256};
    #[derive(Default)]
    struct Acc {
        orders: u64,
        units: u64,
        cents: i64,
        regions: BTreeSet<Vec<u8>>,
    }
    fn acc<'a>(map: &'a mut HashMap<Vec<u8>, Acc>, key: &[u8]) -> &'a mut Acc {
        if !map.contains_key(key) {
            map.insert(key.to_vec(), Acc::default());
        }
        map.get_mut(key).expect("just inserted")
    }
    let mut file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut hasher = Sha256::new();
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        HashingReader { inner: &mut file, hasher: (!lean).then_some(&mut hasher) },
    );
    let mut csv = csv::Reader::from_reader(reader);
    let headers = csv.byte_headers()?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name.as_bytes()).with_context(|| format!("no {name}"))
    };
    let (d, o, s, r, p, q, u) = (
        col("date")?,
        col("order_id")?,
        col("sales_rep")?,
        col("region")?,
        col("product")?,
        col("quantity")?,
        col("unit_price")?,
    );
    let mut reps: HashMap<Vec<u8>, Acc> = HashMap::new();
    let mut regions: HashMap<Vec<u8>, Acc> = HashMap::new();
    let mut products: HashMap<Vec<u8>, Acc> = HashMap::new();
    let mut ids: HashSet<Vec<u8>> = HashSet::new();
    let mut first_date: Option<Vec<u8>> = None;
    let (mut rows, mut total) = (0u64, 0i64);
    let mut record = csv::ByteRecord::new();
    while csv.read_byte_record(&mut record)? {
        for field in record.iter() {
            std::str::from_utf8(field)?;
        }
        let text = |i: usize| std::str::from_utf8(&record[i]).unwrap_or_default();
        let quantity: u64 = text(q).parse()?;
        let cents =
            sales_domain::money::Cents::parse_price(text(u)).map_err(|e| anyhow::anyhow!("{e}"))?.0;
        let revenue = cents * quantity as i64;
        match &first_date {
            None => first_date = Some(record[d].to_vec()),
            Some(date) if date[..] != record[d] => bail!("two dates"),
            Some(_) => {}
        }
        if !lean && !ids.insert(record[o].to_vec()) {
            bail!("duplicate order id");
        }
        for (map, key) in [(&mut reps, s), (&mut regions, r), (&mut products, p)] {
            let a = acc(map, &record[key]);
            a.orders += 1;
            a.units += quantity;
            a.cents += revenue;
        }
        let seen = &mut acc(&mut reps, &record[s]).regions;
        if !seen.contains(&record[r]) {
            seen.insert(record[r].to_vec());
        }
        rows += 1;
        total += revenue;
    }
    drop(csv);
    let sorted: BTreeMap<_, _> = reps.iter().map(|(k, v)| (k, v.cents)).collect();
    println!(
        "rows {rows} revenue_cents {total} reps {} regions {} products {} sha256 {}",
        sorted.len(),
        regions.len(),
        products.len(),
        hex::encode(hasher.finalize())
    );
    Ok(())
}

/// Our validator on one core with the SHA-256 left out (`hash_elsewhere`, a dummy digest
/// given at the end): how much of `reportsengine build`'s time on one core is not hashing.
fn no_hash(path: &Path) -> Result<()> {
    let mut file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    // The limits `reportsengine build` uses, so that this is the same validation minus the hash.
    let mut validator =
        sales_domain::sales::Validator::new("bench", Limits::default()).hash_elsewhere();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        validator.feed(&chunk[..n])?;
    }
    let day = validator.finish_with_sha256([0; 32])?;
    println!("rows {} revenue_cents {} (no SHA-256)", day.rows, day.revenue.0);
    Ok(())
}

/// A floor for target 1: the numbers of a file *known* to be a valid, generated one, with
/// none of the checks (no UTF-8, order ids, blanks, limits, line numbers, quoting rules;
/// `""` left escaped in keys; a row is 7 fields ending in LF, anything else is skipped),
/// read in 1 MiB chunks like ours. Separators are found 64 bytes
/// at a time (SSE2 compares, quote parity by prefix XOR), the three names looked up in our
/// own name tables (`sales_domain::sales::Names`), quantity × price summed. What is
/// left of 1 GB/s on one core after the SHA-256 must cover at least this; with `sha256`, both.
fn bare_numbers(path: &Path, sha256: bool) -> Result<()> {
    use sha2::{Digest, Sha256};
    let mut hasher = sha256.then(Sha256::new);
    const CHUNK: usize = 1 << 20;
    let mut file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    // Room for a chunk after the carried-over part of a line, and for the last 64-byte
    // block, which runs past the end of the data.
    let mut buf = vec![0u8; 2 * CHUNK + 64];
    let (mut filled, mut header) = (0, true);
    let mut sums = BareSums::default();
    loop {
        let n = file.read(&mut buf[filled..filled + CHUNK])?;
        if let Some(hasher) = &mut hasher {
            hasher.update(&buf[filled..filled + n]);
        }
        filled += n;
        let lines = match buf[..filled].iter().rposition(|&b| b == b'\n') {
            Some(last) if n > 0 => last + 1,
            _ => filled,
        };
        bare_chunk(&buf[..lines + 64], lines, &mut header, &mut sums)?;
        buf.copy_within(lines..filled, 0);
        filled -= lines;
        if n == 0 {
            break;
        }
        if filled > CHUNK {
            bail!("a line longer than 1 MiB: not a generated file");
        }
    }
    println!(
        "rows {} revenue_cents {} reps {} regions {} products {} sha256 {} (no checks)",
        sums.rows,
        sums.revenue,
        sums.reps.len(),
        sums.regions.len(),
        sums.products.len(),
        hasher.map_or_else(|| "-".to_string(), |h| hex::encode(h.finalize()))
    );
    Ok(())
}

/// The whole lines in `data[..len]` (followed by at least 64 more bytes, of any value).
fn bare_chunk(data: &[u8], len: usize, header: &mut bool, sums: &mut BareSums) -> Result<()> {
    let mut fields = [(0usize, 0usize); 8];
    let (mut count, mut field_start, mut carry) = (0usize, 0usize, 0u64);
    let mut at = 0;
    while at < len {
        let block: &[u8; 64] = data[at..at + 64].try_into()?;
        let (comma, quote, lf) = bare_masks(block);
        let mut inside = quote;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        inside ^= carry;
        carry = ((inside as i64) >> 63) as u64;
        let valid = if len - at < 64 { (1u64 << (len - at)) - 1 } else { u64::MAX };
        let mut separators = (comma | lf) & !inside & valid;
        while separators != 0 {
            let i = separators.trailing_zeros();
            separators &= separators - 1;
            let end = at + i as usize;
            let quoted = usize::from(data[field_start] == b'"');
            fields[count & 7] = (field_start + quoted, end - quoted);
            count += 1;
            field_start = end + 1;
            if lf >> i & 1 == 1 {
                if !*header && count == 7 {
                    sums.row(data, &fields);
                }
                *header = false;
                count = 0;
            }
        }
        at += 64;
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn bare_masks(block: &[u8; 64]) -> (u64, u64, u64) {
    use safe_arch::{cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
    let [comma, quote, lf] = [b',', b'"', b'\n'].map(|c| set_splat_i8_m128i(c as i8));
    let mut masks = [0u64; 3];
    for (k, part) in block.chunks_exact(16).enumerate() {
        let mut lanes = [0u8; 16];
        lanes.copy_from_slice(part);
        let v = m128i::from(lanes);
        for (mask, c) in masks.iter_mut().zip([comma, quote, lf]) {
            *mask |= u64::from(move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, c)) as u16) << (16 * k);
        }
    }
    (masks[0], masks[1], masks[2])
}

#[cfg(not(target_arch = "x86_64"))]
fn bare_masks(block: &[u8; 64]) -> (u64, u64, u64) {
    let mask = |c: u8| block.iter().enumerate().fold(0u64, |m, (i, &b)| m | u64::from(b == c) << i);
    (mask(b','), mask(b'"'), mask(b'\n'))
}

#[derive(Default)]
struct BareSums {
    rows: u64,
    units: u64,
    revenue: i64,
    reps: sales_domain::sales::Names,
    regions: sales_domain::sales::Names,
    products: sales_domain::sales::Names,
    /// Per rep: orders, units, revenue, regions as bits; per region and product the same.
    rep_sums: Vec<(u64, u64, i64, u64)>,
    region_sums: Vec<(u64, u64, i64, u64)>,
    product_sums: Vec<(u64, u64, i64, u64)>,
}

impl BareSums {
    fn row(&mut self, data: &[u8], f: &[(usize, usize); 8]) {
        let digits = |(s, e): (usize, usize)| {
            data[s..e].iter().fold(0u64, |v, &c| v * 10 + u64::from(c.wrapping_sub(b'0')))
        };
        let quantity = digits(f[5]);
        let (s, e) = f[6];
        let cents = match data[s..e].iter().position(|&c| c == b'.') {
            Some(dot) => digits((s, s + dot)) * 100 + digits((s + dot + 1, e)),
            None => digits((s, e)) * 100,
        };
        let revenue = (cents * quantity) as i64;
        self.rows += 1;
        self.units += quantity;
        self.revenue += revenue;
        let name = |(s, e): (usize, usize)| &data[s..e];
        let rep = self.reps.slot(name(f[2]));
        let region = self.regions.slot(name(f[3]));
        let product = self.products.slot(name(f[4]));
        for (sums, i, bit) in [
            (&mut self.rep_sums, rep, 1u64 << (region & 63)),
            (&mut self.region_sums, region, 0),
            (&mut self.product_sums, product, 0),
        ] {
            if i >= sums.len() {
                sums.resize(i + 1, (0, 0, 0, 0));
            }
            let s = &mut sums[i];
            *s = (s.0 + 1, s.1 + quantity, s.2 + revenue, s.3 | bit);
        }
    }
}

struct HashingReader<'a, R> {
    inner: R,
    hasher: Option<&'a mut sha2::Sha256>,
}
impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = self.hasher.as_deref_mut() {
            sha2::Digest::update(hasher, &buf[..n]);
        }
        Ok(n)
    }
}

struct Clients {
    config: Config,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
}

async fn clients(config_path: &str) -> Result<Clients> {
    let env: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("VPCE_LAB_")).collect();
    let config = Config::load(Path::new(config_path), &env, &[])?;
    // A plain client, as anyone would write one: the SDK's defaults, the configuration's
    // region and endpoints, nothing of ours.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    let mut s3 =
        aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.endpoints.force_path_style);
    if let Some(url) = &config.endpoints.s3 {
        s3 = s3.endpoint_url(url);
    }
    let mut sqs = aws_sdk_sqs::config::Builder::from(&sdk);
    if let Some(url) = &config.endpoints.sqs {
        sqs = sqs.endpoint_url(url);
    }
    Ok(Clients {
        config,
        s3: aws_sdk_s3::Client::from_conf(s3.build()),
        sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
    })
}

fn day(index: u32) -> Result<SalesDate> {
    let first = SalesDate::from_ymd(2001, 1, 1).context("date")?;
    let d = first.0.checked_add(time::Duration::days(i64::from(index))).context("date")?;
    Ok(SalesDate(d))
}

fn sales_key(date: SalesDate) -> String {
    format!("sales/{date}/sales.csv")
}

async fn put_day(c: &Clients, index: u32, rows: u64) -> Result<SalesDate> {
    let date = day(index)?;
    let mut body = Vec::new();
    sales_domain::generate::generate(date, rows, 7, &mut body)?;
    c.s3.put_object()
        .bucket(&c.config.bucket)
        .key(sales_key(date))
        .body(Bytes::from(body).into())
        .send()
        .await
        .context("PutObject")?;
    Ok(date)
}

async fn send(c: &Clients, date: SalesDate) -> Result<()> {
    let body = format!(
        "{{\"datafilelocation\":\"s3://{}/{}\",\"date\":\"{date}\"}}",
        c.config.bucket,
        sales_key(date)
    );
    c.sqs.send_message().queue_url(&c.config.queue_url).message_body(body).send().await?;
    Ok(())
}

/// Puts `n` small days (from day index `first`) and queues one message for each.
async fn seed(config: &str, n: u32, rows: u64, first: u32) -> Result<()> {
    let c = clients(config).await?;
    for i in first..first + n {
        let date = put_day(&c, i, rows).await?;
        send(&c, date).await?;
    }
    println!("seeded {n} days of {rows} rows");
    Ok(())
}

/// The emulator's ceiling for the engine's calls, done plainly: receive up to 10, then for
/// each message (concurrently) GET the sales object and the ledger, PUT three report-sized
/// objects, then one DeleteMessageBatch. Stops when a receive answers empty.
async fn queue_loop(config: &str) -> Result<()> {
    let start_wall = std::time::SystemTime::now();
    let c = std::sync::Arc::new(clients(config).await?);
    let mut done = 0u64;
    let mut last = start_wall;
    loop {
        let out = c
            .sqs
            .receive_message()
            .queue_url(&c.config.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for m in &messages {
            let c = c.clone();
            let body = m.body().unwrap_or_default().to_string();
            tasks.spawn(async move { one_message(&c, &body).await });
        }
        let mut dates = Vec::new();
        while let Some(r) = tasks.join_next().await {
            dates.push(r??);
        }
        update_index(&c, &dates).await?;
        let entries: Vec<_> = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        c.sqs
            .delete_message_batch()
            .queue_url(&c.config.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
        done += messages.len() as u64;
        last = std::time::SystemTime::now();
    }
    // Up to the last delete: the final, empty long poll is not work.
    let secs = last.duration_since(start_wall).map_or(0.0, |d| d.as_secs_f64());
    let epoch = last.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    println!(
        "messages {done} seconds {secs:.3} per_second {:.1} last_delete_epoch {epoch:.6}",
        done as f64 / secs
    );
    Ok(())
}

/// One index update per batch, as the engine makes it: read the JSON with its ETag, write it
/// back conditionally (once more on a 412), write the page, read the JSON again.
async fn update_index(c: &Clients, dates: &[String]) -> Result<()> {
    let (bucket, json_key) = (&c.config.bucket, "plain/index.json");
    for _ in 0..3 {
        let read = c.s3.get_object().bucket(bucket).key(json_key).send().await;
        let (mut days, etag) = match read {
            Ok(o) => {
                let etag = o.e_tag().map(str::to_string);
                let text = String::from_utf8(o.body.collect().await?.to_vec())?;
                (text.lines().map(str::to_string).collect::<BTreeSet<_>>(), etag)
            }
            Err(_) => (BTreeSet::new(), None),
        };
        days.extend(dates.iter().cloned());
        let body: String = days.iter().map(|d| format!("{d}\n")).collect();
        let put =
            c.s3.put_object().bucket(bucket).key(json_key).body(body.clone().into_bytes().into());
        let put = match etag {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        if put.send().await.is_err() {
            continue; // lost the race: read and merge again
        }
        c.s3.put_object()
            .bucket(bucket)
            .key("plain/index.html")
            .body(body.into_bytes().into())
            .send()
            .await?;
        c.s3.get_object().bucket(bucket).key(json_key).send().await?.body.collect().await?;
        return Ok(());
    }
    bail!("the index kept changing")
}

/// One message as a plain client handles it; returns the day's date.
async fn one_message(c: &Clients, body: &str) -> Result<String> {
    let key = body
        .split("s3://")
        .nth(1)
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(_, k)| k.split('"').next())
        .context("message without a key")?
        .to_string();
    let object = c.s3.get_object().bucket(&c.config.bucket).key(&key).send().await?;
    let sales = object.body.collect().await?.into_bytes();
    // The ledger: absent here, as in the engine's run.
    let _ = c.s3.get_object().bucket(&c.config.bucket).key("compensation/ledger.csv").send().await;
    let date = key.split('/').nth(1).unwrap_or("x").to_string();
    // Report-sized bodies: the engine's three files for such a day are a few KiB to a few
    // tens of KiB; use slices of the sales file of those sizes.
    for (name, len) in
        [("report.csv", 16 << 10), ("report.json", 48 << 10), ("report.html", 64 << 10)]
    {
        let part = sales.slice(..sales.len().min(len));
        c.s3.put_object()
            .bucket(&c.config.bucket)
            .key(format!("plain/{date}/{name}"))
            .body(part.into())
            .send()
            .await?;
    }
    Ok(date)
}

/// With an engine running (idle, long-polling): put a small day, send its message, and
/// poll (every 2 ms) for its report.html. Prints each latency and the median.
async fn latency(config: &str, n: u32) -> Result<()> {
    let c = clients(config).await?;
    let mut samples = Vec::new();
    for i in 0..n {
        let date = put_day(&c, 5000 + i, 50).await?;
        tokio::time::sleep(Duration::from_millis(300)).await; // let the engine go idle again
        let key = format!("reports/{date}/report.html");
        let sent = Instant::now();
        send(&c, date).await?;
        loop {
            if c.s3.head_object().bucket(&c.config.bucket).key(&key).send().await.is_ok() {
                break;
            }
            if sent.elapsed() > Duration::from_secs(30) {
                bail!("no report for {date} after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    println!("latency_ms {}", summary(&mut samples));
    Ok(())
}

/// "median X min Y max Z (n)"
fn summary(samples: &mut [f64]) -> String {
    samples.sort_by(f64::total_cmp);
    let median = samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN);
    format!(
        "median {median:.1} min {:.1} max {:.1} n {}",
        samples.first().copied().unwrap_or(f64::NAN),
        samples.last().copied().unwrap_or(f64::NAN),
        samples.len()
    )
}

/// Starts CMD with every endpoint pointed at a listener here and measures the time until
/// its first request arrives (configuration read and validated, clients built, the first
/// call in flight), then kills it. The listener never answers.
fn ready(n: u32, cmd: &[String]) -> Result<()> {
    use std::net::TcpListener;
    let mut samples = Vec::new();
    for _ in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let started = Instant::now();
        let mut child = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .env("VPCE_LAB_ENDPOINTS_S3", &url)
            .env("VPCE_LAB_ENDPOINTS_SQS", &url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        listener.set_nonblocking(true)?;
        let arrived = loop {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false)?;
                    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                    let mut first = [0u8; 1];
                    let _ = stream.read(&mut first);
                    break Some(started.elapsed());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if started.elapsed() > Duration::from_secs(10) || child.try_wait()?.is_some() {
                        break None;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        match arrived {
            Some(t) => samples.push(t.as_secs_f64() * 1000.0),
            None => bail!("{} sent no request within 10 s", cmd[0]),
        }
    }
    println!("ready_ms {}", summary(&mut samples));
    Ok(())
}

/// Runs CMD to its end `n` times; prints the wall times.
fn spawn(n: u32, cmd: &[String]) -> Result<()> {
    let mut samples = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let status = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdout(std::process::Stdio::null())
            .status()?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        if !status.success() {
            bail!("{} failed: {status}", cmd[0]);
        }
    }
    println!("spawn_ms {}", summary(&mut samples));
    Ok(())
}

/// The throttling proxy: every connection relayed both ways, the answers (upstream →
/// client) paced to `mibps` per connection, as one TCP stream to S3 is on AWS. Both sockets
/// set TCP_NODELAY: with Nagle's algorithm the last short write of each answer would wait
/// for an ACK the peer delays by 40 ms, a stall per request that S3 does not have.
async fn throttle(port: u16, upstream: u16, mibps: f64) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let bytes_per_sec = mibps * f64::from(1u32 << 20);
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                return;
            };
            if client.set_nodelay(true).is_err() || server.set_nodelay(true).is_err() {
                return;
            }
            let (mut client_read, client_write) = client.into_split();
            let (server_read, mut server_write) = server.into_split();
            let up = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            let _ = paced_copy(server_read, client_write, bytes_per_sec).await;
            up.abort();
        });
    }
}

/// Copies `from` to `to` at most `bytes_per_sec`: after each read, waits until the bytes so
/// far are due.
async fn paced_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    bytes_per_sec: f64,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 << 10];
    let mut sent = 0u64;
    let mut since = Instant::now();
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buf[..n]).await?;
        sent += n as u64;
        let due = Duration::from_secs_f64(sent as f64 / bytes_per_sec);
        let elapsed = since.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        } else if elapsed > due + Duration::from_secs(1) {
            // Idle between requests: the pace starts again, it is not owed.
            (sent, since) = (0, Instant::now());
        }
    }
}
