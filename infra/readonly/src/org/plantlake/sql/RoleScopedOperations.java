package org.plantlake.sql;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import org.apache.hive.service.Service;
import org.apache.hive.service.cli.CLIService;
import org.apache.hive.service.cli.operation.GetColumnsOperation;
import org.apache.hive.service.cli.operation.GetFunctionsOperation;
import org.apache.hive.service.cli.operation.GetSchemasOperation;
import org.apache.hive.service.cli.operation.MetadataOperation;
import org.apache.hive.service.cli.operation.OperationManager;
import org.apache.hive.service.cli.session.HiveSession;
import org.apache.hive.service.cli.session.SessionManager;
import org.apache.hive.service.server.HiveServer2;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.util.StringUtils;
import org.apache.spark.sql.hive.thriftserver.SparkSQLSessionManager;
import org.apache.spark.sql.hive.thriftserver.server.SparkSQLOperationManager;

import scala.jdk.javaapi.CollectionConverters;

/**
 * Thrift metadata calls (a JDBC tool's schema browser: GetSchemas, GetTables, GetColumns,
 * GetFunctions) never reach Spark's analyzer, so {@link LayerAccess} does not see them: this
 * operation manager narrows their schema pattern to the schemas of the signed-in user's role
 * (and `default`) before Spark lists anything. Installed by {@link #install} in place of the
 * Thrift server's own, before the first client session opens.
 */
public final class RoleScopedOperations extends SparkSQLOperationManager {

  /** A pattern that names no schema. */
  static final String NONE = "-";

  /** Put this manager in place of the server's (its sessions and operations go through it). */
  public static void install(HiveServer2 server) throws ReflectiveOperationException {
    SessionManager sessions = null;
    for (Service service : server.getServices()) {
      if (service instanceof CLIService) {
        sessions = ((CLIService) service).getSessionManager();
      }
    }
    if (!(sessions instanceof SparkSQLSessionManager)) {
      throw new IllegalStateException("no Spark SQL session manager in " + server);
    }
    RoleScopedOperations operations = new RoleScopedOperations();
    // Spark's manager takes Hive's map of operations from its direct superclass; from a
    // subclass of it that lookup finds its own field, still empty: hand it Hive's map
    Field hive = OperationManager.class.getDeclaredField("handleToOperation");
    hive.setAccessible(true);
    set(SparkSQLOperationManager.class, operations, "handleToOperation", hive.get(operations));
    operations.init(server.getHiveConf());
    operations.start();
    set(SessionManager.class, sessions, "operationManager", operations);
    set(SparkSQLSessionManager.class, sessions, "sparkSqlOperationManager", operations);
  }

  private static void set(Class<?> owner, Object target, String name, Object value)
      throws ReflectiveOperationException {
    Field field = owner.getDeclaredField(name);
    field.setAccessible(true);
    field.set(target, value);
  }

  /**
   * The schemas of `session`'s role that the client's `pattern` matches, as exact names joined
   * by `|`; the pattern is read as Spark's own metadata operations read it (JDBC `%` and `_`,
   * then Hive's `*` and `|`).
   */
  String scope(HiveSession session, String pattern) {
    SparkSession spark = sessionToContexts().get(session.getSessionHandle());
    TreeSet<String> visible = new TreeSet<>();
    if (spark != null) {
      visible.addAll(LayerAccess.grant(spark, session.getUserName()).schemas());
      visible.add("default");
    }
    List<String> shown =
        CollectionConverters.asJava(
            StringUtils.filterPattern(
                CollectionConverters.asScala(new ArrayList<>(visible)).toList(),
                sparkPattern(pattern)));
    return shown.isEmpty() ? NONE : String.join("|", shown);
  }

  /** SparkOperation.convertSchemaPattern of Spark 4.2: JDBC wildcards to Hive's. */
  static String sparkPattern(String pattern) {
    String jdbc = pattern == null || pattern.isEmpty() ? "%" : pattern;
    return jdbc.replaceAll("([^\\\\])%", "$1*")
        .replaceAll("\\\\%", "%")
        .replaceAll("^%", "*")
        .replaceAll("([^\\\\])_", "$1.")
        .replaceAll("\\\\_", "_")
        .replaceAll("^_", ".");
  }

  @Override
  public synchronized GetSchemasOperation newGetSchemasOperation(
      HiveSession session, String catalog, String schema) {
    return super.newGetSchemasOperation(session, catalog, scope(session, schema));
  }

  @Override
  public synchronized MetadataOperation newGetTablesOperation(
      HiveSession session, String catalog, String schema, String table, List<String> types) {
    return super.newGetTablesOperation(session, catalog, scope(session, schema), table, types);
  }

  @Override
  public synchronized GetColumnsOperation newGetColumnsOperation(
      HiveSession session, String catalog, String schema, String table, String column) {
    return super.newGetColumnsOperation(session, catalog, scope(session, schema), table, column);
  }

  @Override
  public synchronized GetFunctionsOperation newGetFunctionsOperation(
      HiveSession session, String catalog, String schema, String function) {
    return super.newGetFunctionsOperation(session, catalog, scope(session, schema), function);
  }
}
