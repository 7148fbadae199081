package org.plantlake.sql;

import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.analysis.LocalTempView$;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.command.CreateViewCommand;
import org.apache.spark.sql.execution.command.SetCommand;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;

import scala.Function1;
import scala.runtime.BoxedUnit;

/**
 * Makes every SparkSession of the plantlake SQL endpoint read-only: an analyzer check rule
 * refuses any plan holding a command that is not on a short list of read-only ones (SHOW,
 * DESCRIBE, EXPLAIN, SET, USE, CACHE, temporary views). Writes of every kind are commands
 * (INSERT, DELETE, UPDATE, MERGE, CREATE/DROP/ALTER, TRUNCATE, OPTIMIZE, VACUUM, ADD JAR…),
 * so none reaches execution. It also refuses what would reach beyond the lake's tables: a
 * program run by TRANSFORM ... USING, a SET of anything but a few display settings (a JDBC
 * catalog, file reading turned back on), a Delta table named by its path. Files by path
 * (text.`/etc/...`) need spark.sql.runSQLOnFiles, which the endpoint turns off. Enabled with
 * {@code spark.sql.extensions=org.plantlake.sql.ReadOnlyExtension}.
 *
 * <p>The same check enforces the role of the signed-in user ({@link LayerAccess}: only the
 * schemas of its role) and refuses the statements of a session opened with a setting outside the
 * SET allow-list ({@link SessionSettings}). The endpoint's own session, which registers the
 * lake's tables by name, is exempted by {@link #trust(SparkSession)}; the sessions of SQL
 * clients are new sessions, never trusted.
 */
public final class ReadOnlyExtension implements Function1<SparkSessionExtensions, BoxedUnit> {

  /** Sessions allowed to write: the endpoint's own (weakly held, by identity). */
  private static final Set<SparkSession> TRUSTED =
      Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

  /** Read-only commands, by class name (class names are stable across Spark and Delta versions). */
  private static final Set<String> READ_ONLY_COMMANDS =
      Set.of(
          "SetCommand", "ResetCommand", "SetCatalogAndNamespace", "SetCatalogCommand",
          "SetNamespaceCommand", "CacheTable", "CacheTableAsSelect", "CacheTableCommand",
          "UncacheTable", "UncacheTableCommand", "ClearCacheCommand", "RefreshTable",
          "RefreshTableCommand", "RefreshResource", "RefreshFunctionCommand",
          "DropTempViewCommand", "CreateVariable", "DropVariable", "SetVariable");

  private static final String[] READ_ONLY_PREFIXES = {"Show", "Describe", "Explain"};

  private static final Set<String> REFLECTION = Set.of("CallMethodViaReflection", "TryReflect");

  /**
   * Session settings a client may change: how results look, never where data comes from
   * (catalogs, files, data sources) or what runs. Every other `SET key=value` is refused.
   */
  private static final Set<String> SETTABLE =
      Set.of(
          "spark.sql.session.timeZone", "spark.sql.ansi.enabled", "spark.sql.legacy.timeParserPolicy",
          "spark.sql.shuffle.partitions", "spark.sql.autoBroadcastJoinThreshold",
          "spark.sql.caseSensitive", "spark.sql.datetime.java8API.enabled",
          "spark.sql.adaptive.enabled", "spark.sql.thriftServer.incrementalCollect");

  /** What a client may give when it opens a session: SETTABLE, and what the Hive JDBC driver
   * puts in every session it opens. */
  private static final Set<String> OPENING_SETTABLE =
      union(SETTABLE, Set.of("hive.server2.thrift.resultset.default.fetch.size"));

  /** What a write is called in the message, where the class name does not say it plainly. */
  private static final Map<String, String> KINDS =
      Map.ofEntries(
          Map.entry("AppendData", "INSERT"),
          Map.entry("InsertIntoStatement", "INSERT"),
          Map.entry("InsertIntoHadoopFsRelationCommand", "INSERT"),
          Map.entry("InsertIntoDataSourceCommand", "INSERT"),
          Map.entry("OverwriteByExpression", "INSERT OVERWRITE"),
          Map.entry("OverwritePartitionsDynamic", "INSERT OVERWRITE"),
          Map.entry("InsertIntoDataSourceDirCommand", "INSERT OVERWRITE DIRECTORY"),
          Map.entry("CreateDataSourceTableAsSelectCommand", "CREATE TABLE AS SELECT"),
          Map.entry("CreateDataSourceTableCommand", "CREATE TABLE"),
          Map.entry("TruncateDeltaTableCommand", "TRUNCATE TABLE"),
          Map.entry("SetTableProperties", "ALTER TABLE SET TBLPROPERTIES"),
          Map.entry("UnsetTableProperties", "ALTER TABLE UNSET TBLPROPERTIES"),
          Map.entry("CreateNamespace", "CREATE DATABASE"),
          Map.entry("DropNamespace", "DROP DATABASE"),
          Map.entry("WriteDelta", "DELETE/UPDATE/MERGE"),
          Map.entry("ReplaceData", "DELETE/UPDATE/MERGE"));

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> both = new java.util.HashSet<>(a);
    both.addAll(b);
    return Set.copyOf(both);
  }

  /** Let `session` write (the endpoint's own session, which registers tables). */
  public static void trust(SparkSession session) {
    TRUSTED.add(session);
  }

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    Function1<SparkSession, Function1<LogicalPlan, BoxedUnit>> builder =
        session ->
            plan -> {
              if (!TRUSTED.contains(session)) {
                refuseWrites(plan);
                SessionSettings.check(session, plan, OPENING_SETTABLE);
                LayerAccess.check(session, plan);
              }
              return BoxedUnit.UNIT;
            };
    extensions.injectCheckRule(builder);
    Function1<SparkSession, Rule<LogicalPlan>> schemas =
        session -> new LayerAccess.SchemaFilter(session, TRUSTED::contains);
    extensions.injectPostHocResolutionRule(schemas);
    return BoxedUnit.UNIT;
  }

  /** Throws a SecurityException naming the first write in `plan`, if any. */
  public static void refuseWrites(LogicalPlan plan) {
    plan.foreachWithSubqueries(
        node -> {
          if (node instanceof Command && !isReadOnly(node)) {
            throw refusal(kind(node));
          }
          String name = node.getClass().getSimpleName();
          // TRANSFORM ... USING 'program' runs a program on the server.
          if (name.contains("ScriptTransformation")) {
            throw refusal("TRANSFORM USING (running programs)");
          }
          if (node instanceof SetCommand) {
            scala.Option<scala.Tuple2<String, scala.Option<String>>> kv = ((SetCommand) node).kv();
            if (kv.isDefined() && kv.get()._2().isDefined() && !SETTABLE.contains(kv.get()._1())) {
              throw refusal("SET " + kv.get()._1());
            }
          }
          // Only the lake's tables, by name: `delta.`/path`` names a table by its folder. (Files
          // by path, text.`/etc/…`, need spark.sql.runSQLOnFiles, which the endpoint turns off
          // and SET may not turn on; Delta's own reads of its log are path relations too.)
          if (node instanceof DataSourceV2Relation) {
            scala.Option<Identifier> id = ((DataSourceV2Relation) node).identifier();
            if (id.isEmpty() || id.get().name().startsWith("/") || id.get().name().contains(":")) {
              throw refusal("reading a table by path (only the lake's tables, by name)");
            }
          }
          // reflect()/java_method() call any static Java method: System.exit, for one.
          Function1<Expression, BoxedUnit> refuseReflection =
              e -> {
                if (REFLECTION.contains(e.getClass().getSimpleName())) {
                  throw refusal("REFLECT (calling Java methods)");
                }
                return BoxedUnit.UNIT;
              };
          Function1<Expression, BoxedUnit> inExpression =
              expression -> {
                expression.foreach(refuseReflection);
                return BoxedUnit.UNIT;
              };
          node.expressions().foreach(inExpression);
          return BoxedUnit.UNIT;
        });
  }

  static boolean isReadOnly(LogicalPlan node) {
    String name = node.getClass().getSimpleName();
    if (READ_ONLY_COMMANDS.contains(name)) {
      return true;
    }
    for (String prefix : READ_ONLY_PREFIXES) {
      if (name.startsWith(prefix)) {
        return true;
      }
    }
    // A temporary view lives in the client's session only; a persistent one is a write.
    return node instanceof CreateViewCommand
        && ((CreateViewCommand) node).viewType() == LocalTempView$.MODULE$;
  }

  /** "DeleteCommand" → "DELETE", "CreateTableAsSelect" → "CREATE TABLE AS SELECT". */
  static String kind(LogicalPlan node) {
    String name = node.getClass().getSimpleName();
    if (KINDS.containsKey(name)) {
      return KINDS.get(name);
    }
    name = name.replaceAll("(Command|Statement|Exec)$", "");
    return String.join(" ", name.split("(?<=[a-z0-9])(?=[A-Z])")).toUpperCase(Locale.ROOT);
  }

  /**
   * A SecurityException, not an AnalysisException: Spark appends the whole analysed plan to the
   * message of an AnalysisException raised by a check rule, and a client wants one line.
   */
  static SecurityException refusal(String kind) {
    return new SecurityException(
        "plantlake SQL endpoint is read-only: "
            + kind
            + " refused (start it with --read-write to allow writes)");
  }
}
