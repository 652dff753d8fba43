"""The same aggregation in plain Python with the csv module (a baseline for bench/run.sh).

Per rep (orders, units, revenue, regions), per region and per product, an exact set of order
ids, one date, money in integer cents, and the file's SHA-256 (hashlib, in a first pass).
With --lean: csv.reader instead of DictReader, no order-id set, no SHA-256.
"""
import csv
import hashlib
import sys


def cents(price):
    units, _, frac = price.partition(".")
    return int(units) * 100 + int((frac + "00")[:2])


def lean(path):
    reps, regions, products = {}, {}, {}
    rows, total = 0, 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        rd = csv.reader(f)
        head = next(rd)
        d, s, r, p, q, u = (head.index(c) for c in
                            ("date", "sales_rep", "region", "product", "quantity", "unit_price"))
        for row in rd:
            qty = int(row[q])
            rev = qty * cents(row[u])
            for m, k in ((reps, row[s]), (regions, row[r]), (products, row[p])):
                acc = m.get(k)
                if acc is None:
                    acc = m[k] = [0, 0, 0]
                acc[0] += 1
                acc[1] += qty
                acc[2] += rev
            rows += 1
            total += rev
    print(f"rows {rows} revenue_cents {total} reps {len(reps)} regions {len(regions)} "
          f"products {len(products)}")


def main(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    reps, regions, products, ids = {}, {}, {}, set()
    date, rows, total = None, 0, 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if date is None:
                date = row["date"]
            elif row["date"] != date:
                sys.exit("two dates")
            oid = row["order_id"]
            if oid in ids:
                sys.exit("duplicate order id " + oid)
            ids.add(oid)
            q = int(row["quantity"])
            rev = q * cents(row["unit_price"])
            r = reps.setdefault(row["sales_rep"], [0, 0, 0, set()])
            r[0] += 1
            r[1] += q
            r[2] += rev
            r[3].add(row["region"])
            for acc in (regions.setdefault(row["region"], [0, 0, 0]),
                        products.setdefault(row["product"], [0, 0, 0])):
                acc[0] += 1
                acc[1] += q
                acc[2] += rev
            rows += 1
            total += rev
    print(f"rows {rows} revenue_cents {total} reps {len(reps)} regions {len(regions)} "
          f"products {len(products)} sha256 {h.hexdigest()}")


if __name__ == "__main__":
    (lean if sys.argv[2:] == ["--lean"] else main)(sys.argv[1])
