//! Deterministic, realistic sample sales data.
//!
//! "Deterministic forever" is a promise to tests, benchmarks and demos that store a seed rather
//! than a file: the PRNG is a hand-written splitmix64 (no `rand`, whose algorithms may change),
//! and every table below is part of the output format. Changing a name, a price rule or the
//! order of draws changes the bytes: do it only on purpose.
//!
//! What it looks like: 300 reps (20 first × 15 last names, some non-ASCII), 7 regions, each
//! rep mostly selling in a home region, ~420 products (some with commas or quotes in their
//! names, so they get quoted), fixed prices from 0.99 to 2 499.00 with varied cents, quantities
//! 1–20 skewed small, and order ids `ORD-YYYYMMDD-000001` in sequence.
use crate::money::Cents;
use crate::sales::SalesDate;

const FIRST_NAMES: [&str; 20] = [
    "Ada", "Alan", "Amara", "Björn", "Carlos", "Chen", "Dmitri", "Elena", "Fatima", "Grace",
    "Hiroshi", "Ingrid", "José", "Kwame", "Léa", "Mei", "Noah", "Priya", "Søren", "Zoë",
];
const LAST_NAMES: [&str; 15] = [
    "Lovelace",
    "Turing",
    "Okafor",
    "Andersson",
    "Núñez",
    "Wang",
    "Ivanova",
    "Haddad",
    "Hopper",
    "Tanaka",
    "Ødegaard",
    "Mensah",
    "Dubois",
    "O'Brien",
    "Müller",
];
const REGIONS: [&str; 7] = [
    "North America East",
    "North America West",
    "Latin America",
    "Europe North",
    "Europe South",
    "Middle East & Africa",
    "Asia Pacific",
];
/// Product families: name and the price range (cents) of its variants.
const FAMILIES: [(&str, u32, u32); 35] = [
    ("Cable, USB-C", 99, 2_999),
    ("Cable, HDMI", 299, 3_999),
    ("Adapter, USB-C to HDMI", 999, 4_999),
    ("Charger 65W", 1_999, 6_999),
    ("Power bank", 1_999, 8_999),
    ("Mouse, wireless", 999, 12_999),
    ("Keyboard, mechanical", 4_999, 24_999),
    ("Headset", 1_999, 39_999),
    ("Webcam", 2_999, 19_999),
    ("Microphone", 4_999, 29_999),
    ("Speaker", 2_999, 49_999),
    ("Monitor 24\"", 12_999, 49_999),
    ("Monitor 27\" 4K", 24_999, 119_999),
    ("Laptop Air", 79_999, 179_999),
    ("Laptop Pro", 129_999, 249_900),
    ("Tablet", 29_999, 129_999),
    ("Phone", 39_999, 159_999),
    ("Smartwatch", 14_999, 79_999),
    ("Docking station", 9_999, 34_999),
    ("SSD", 4_999, 49_999),
    ("Hard drive", 4_999, 39_999),
    ("Memory card", 999, 9_999),
    ("Router", 4_999, 59_999),
    ("Network switch", 2_999, 149_999),
    ("Printer", 9_999, 99_999),
    ("Toner", 2_999, 14_999),
    ("Paper A4, 500 sheets", 399, 1_499),
    ("Desk chair", 14_999, 129_999),
    ("Standing desk", 29_999, 149_999),
    ("Desk lamp", 1_999, 14_999),
    ("Backpack", 2_999, 19_999),
    ("Sleeve 13\"", 1_499, 4_999),
    ("Projector", 29_999, 199_999),
    ("Server rack", 59_999, 249_900),
    ("Office suite licence", 6_999, 49_999),
];
const VARIANTS: [&str; 12] = [
    "Basic",
    "Standard",
    "Plus",
    "Pro",
    "Max",
    "Mini",
    "Black",
    "White",
    "Silver",
    "2025 edition",
    "Refurbished",
    "Bundle",
];
/// A fixed seed for the catalog, so prices do not change with the sales seed.
const CATALOG_SEED: u64 = 0x5A1E_5CA7_A10C_0001;
const HEADER: &[u8] = b"date,order_id,sales_rep,region,product,quantity,unit_price\n";

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for sample data, and fixed.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform-enough in `0..n` (multiply-shift, no modulo bias worth mentioning), `n` ≥ 1.
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

/// `field` as one CSV field, as bytes.
fn csv_field(field: &str) -> Vec<u8> {
    let mut out = String::with_capacity(field.len() + 2);
    crate::csv_out::push_field(&mut out, field);
    out.into_bytes()
}

struct Product {
    csv: Vec<u8>,
    price: Vec<u8>,
}

/// The fixed catalog: every family × variant, each with its own price in the family's range.
fn catalog() -> Vec<Product> {
    let mut rng = SplitMix64(CATALOG_SEED);
    let mut products = Vec::with_capacity(FAMILIES.len() * VARIANTS.len());
    for (name, lo, hi) in FAMILIES {
        for variant in VARIANTS {
            let span = (hi - lo) as usize + 1;
            let raw = u64::from(lo) + rng.below(span) as u64;
            // Retail-looking cents most of the time, any cents otherwise.
            let cents = match rng.below(10) {
                0..=3 => raw / 100 * 100 + 99,
                4..=5 => raw / 100 * 100,
                6 => raw / 100 * 100 + 49,
                7 => raw / 100 * 100 + 95,
                _ => raw,
            };
            let cents = cents.clamp(u64::from(lo), u64::from(hi));
            let price = Cents(i64::try_from(cents).unwrap_or(i64::MAX)).to_string().into_bytes();
            products.push(Product { csv: csv_field(&format!("{name} {variant}")), price });
        }
    }
    products
}

/// Appends `n` in decimal, zero-padded to at least `width` digits, without allocating.
fn push_number(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(buf.len().saturating_sub(width));
    out.extend_from_slice(&buf[start..]);
}

/// Writes a header and `rows` rows for `date`; the same (date, rows, seed) gives the same bytes forever.
///
/// The date is mixed into the seed so that consecutive days differ with the same seed.
/// Rows are assembled in a 64 KiB buffer and written in large pieces, so even an unbuffered
/// writer is called rarely. With `rows == 0` only the header is written (which the validator
/// rejects as "no sales rows", as it should).
pub fn generate(
    date: SalesDate,
    rows: u64,
    seed: u64,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let mut rng = SplitMix64(seed ^ (i64::from(date.0.to_julian_day()) as u64).rotate_left(32));
    let reps: Vec<Vec<u8>> = FIRST_NAMES
        .iter()
        .flat_map(|f| LAST_NAMES.iter().map(move |l| csv_field(&format!("{f} {l}"))))
        .collect();
    // Home regions: a fixed pattern, independent of the seed, like a real org chart.
    let home: Vec<usize> = (0..reps.len()).map(|i| (i * 5 + i / 7) % REGIONS.len()).collect();
    let regions: Vec<Vec<u8>> = REGIONS.iter().map(|r| csv_field(r)).collect();
    let products = catalog();
    let prefix = format!("{date},ORD-{}-", date.compact()).into_bytes();

    const FLUSH_AT: usize = 64 * 1024;
    let mut buf = Vec::with_capacity(FLUSH_AT + 1024);
    buf.extend_from_slice(HEADER);
    for n in 1..=rows {
        // Some reps sell more than others: half the draws favour the low indexes.
        let rep = if rng.next() & 1 == 0 {
            rng.below(reps.len())
        } else {
            rng.below(reps.len()).min(rng.below(reps.len()))
        };
        let region = if rng.below(100) < 85 { home[rep] } else { rng.below(REGIONS.len()) };
        let product = rng.below(products.len()).min(rng.below(products.len()));
        // min of three uniform draws: 1 is the most common quantity, 20 rare.
        let quantity = 1 + rng.below(20).min(rng.below(20)).min(rng.below(20));

        buf.extend_from_slice(&prefix);
        push_number(&mut buf, n, 6);
        buf.push(b',');
        buf.extend_from_slice(&reps[rep]);
        buf.push(b',');
        buf.extend_from_slice(&regions[region]);
        buf.push(b',');
        buf.extend_from_slice(&products[product].csv);
        buf.push(b',');
        push_number(&mut buf, quantity as u64, 1);
        buf.push(b',');
        buf.extend_from_slice(&products[product].price);
        buf.push(b'\n');
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sales::{validate_slice, Limits};

    fn date() -> SalesDate {
        "2026-01-15".parse().unwrap()
    }
    fn gen(rows: u64, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        generate(date(), rows, seed, &mut out).unwrap();
        out
    }

    #[test]
    fn deterministic() {
        assert_eq!(gen(2_000, 1), gen(2_000, 1));
        assert_ne!(gen(2_000, 1), gen(2_000, 2));
        // A prefix of a longer run: rows do not depend on the total.
        let long = gen(100, 5);
        let short = gen(50, 5);
        assert!(long.starts_with(&short));
        let mut other_day = Vec::new();
        generate("2026-01-16".parse().unwrap(), 100, 5, &mut other_day).unwrap();
        assert_ne!(other_day[60..], long[60..]);
    }

    /// Pins the format: if this fails, the generator's output changed for everyone.
    #[test]
    fn golden_output() {
        let out = String::from_utf8(gen(3, 42)).unwrap();
        assert_eq!(
            out,
            "date,order_id,sales_rep,region,product,quantity,unit_price\n\
             2026-01-15,ORD-20260115-000001,Fatima Ivanova,Europe South,Microphone Max,4,287.49\n\
             2026-01-15,ORD-20260115-000002,Grace Dubois,North America East,Microphone Bundle,3,103.95\n\
             2026-01-15,ORD-20260115-000003,Chen Okafor,Europe South,Printer White,4,578.00\n"
        );
    }

    #[test]
    fn validates_and_looks_realistic() {
        let rows = 20_000;
        let data = gen(rows, 7);
        let s = validate_slice("gen.csv", &data, Limits::default()).unwrap();
        assert_eq!(s.rows, rows);
        assert_eq!(s.date, date());
        assert!(s.reps.len() > 250, "{}", s.reps.len());
        assert!(s.reps.contains_key("José Núñez"));
        assert!(s.reps.contains_key("Zoë Ødegaard"));
        assert_eq!(s.regions.len(), REGIONS.len());
        assert!(s.products.len() > 300, "{}", s.products.len());
        assert!(s.products.contains_key("Cable, USB-C 2025 edition"));
        assert!(s.products.keys().any(|p| p.contains('"')));
        assert!(s.reps.values().any(|r| r.regions.len() > 1));
        let text = String::from_utf8(data).unwrap();
        assert!(text.contains(",\"Cable, USB-C Basic\","));
        assert!(text.contains("\"Monitor 27\"\" 4K"));
        assert!(text.contains("ORD-20260115-020000,"));
        // Quantities skewed small, within 1..=20; prices within 0.99..=2499.00, varied cents.
        let mut qty = [0u64; 21];
        let mut cents_seen = std::collections::BTreeSet::new();
        for line in text.lines().skip(1) {
            let mut f = line.rsplitn(3, ',');
            let price = Cents::parse_price(f.next().unwrap()).unwrap();
            let q: usize = f.next().unwrap().parse().unwrap();
            qty[q] += 1;
            assert!((99..=249_900).contains(&price.0), "{line}");
            cents_seen.insert(price.0 % 100);
        }
        assert_eq!(qty[0], 0);
        assert!(qty[1] > qty[5] && qty[5] > qty[15] && qty[20] > 0, "{qty:?}");
        assert!(cents_seen.len() > 20);
    }

    #[test]
    fn zero_rows_is_just_the_header() {
        assert_eq!(gen(0, 1), HEADER);
    }

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_number(&mut v, 1, 6);
        v.push(b' ');
        push_number(&mut v, 1_234_567, 6);
        v.push(b' ');
        push_number(&mut v, 0, 1);
        v.push(b' ');
        push_number(&mut v, u64::MAX, 6);
        assert_eq!(String::from_utf8(v).unwrap(), format!("000001 1234567 0 {}", u64::MAX));
        assert_eq!(csv_field("a,b"), b"\"a,b\"");
        assert_eq!(csv_field("27\" x"), b"\"27\"\" x\"");
        assert_eq!(csv_field("plain"), b"plain");
    }
}
