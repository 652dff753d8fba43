"""The same aggregation in DuckDB (a baseline for bench/run.sh): one scan of the CSV into a
table, then per rep / region / product sums, distinct regions per rep, the exact order-id
uniqueness check and the single date. DuckDB uses every core it finds. No SHA-256 (it has no
streaming file hash); ours includes it. With --lean: one aggregate query straight over the
file (per rep only), no table, no distinct ids.
"""
import sys

import duckdb


def lean(path):
    con = duckdb.connect()
    reps = con.execute(
        "SELECT sales_rep, count(*), sum(quantity), sum(quantity * unit_price) "
        "FROM read_csv(?, header=true, columns={"
        "'date':'VARCHAR','order_id':'VARCHAR','sales_rep':'VARCHAR','region':'VARCHAR',"
        "'product':'VARCHAR','quantity':'BIGINT','unit_price':'DECIMAL(18,2)'}) "
        "GROUP BY sales_rep", [path]).fetchall()
    print(f"reps {len(reps)} rows {sum(r[1] for r in reps)}")


def main(path):
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s AS SELECT * FROM read_csv(?, header=true, columns={"
        "'date':'VARCHAR','order_id':'VARCHAR','sales_rep':'VARCHAR','region':'VARCHAR',"
        "'product':'VARCHAR','quantity':'BIGINT','unit_price':'DECIMAL(18,2)'})",
        [path],
    )
    rows, ids, dates = con.execute(
        "SELECT count(*), count(DISTINCT order_id), count(DISTINCT date) FROM s").fetchone()
    if rows != ids or dates != 1:
        sys.exit("duplicate order ids or several dates")
    reps = con.execute(
        "SELECT sales_rep, count(*), sum(quantity), sum(quantity * unit_price), "
        "count(DISTINCT region) FROM s GROUP BY sales_rep ORDER BY sales_rep").fetchall()
    regions = con.execute(
        "SELECT region, count(*), sum(quantity), sum(quantity * unit_price) FROM s "
        "GROUP BY region ORDER BY region").fetchall()
    products = con.execute(
        "SELECT product, sum(quantity), sum(quantity * unit_price) AS r FROM s "
        "GROUP BY product ORDER BY r DESC, product LIMIT 10").fetchall()
    total = sum(r[3] for r in reps)
    print(f"rows {rows} revenue {total} reps {len(reps)} regions {len(regions)} "
          f"top_products {len(products)}")


if __name__ == "__main__":
    (lean if sys.argv[2:] == ["--lean"] else main)(sys.argv[1])
