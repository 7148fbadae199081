"""The session names local jars only (with the network cut off:
tests/integration/lakehouse/test_spark_offline.py)."""

from __future__ import annotations

from pathlib import Path


def test_session_names_local_jars_and_no_maven_coordinates(spark):
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.jars.packages") is None
    jars = conf.get("spark.jars").split(",")
    assert any(Path(j).name.startswith("delta-spark_") for j in jars)
    for jar in jars:
        assert Path(jar).is_absolute() and Path(jar).is_file(), jar
        assert ":" not in Path(jar).name, f"{jar} looks like a Maven coordinate"
    assert conf.get("spark.sql.catalogImplementation") == "in-memory"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
