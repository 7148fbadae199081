package org.plantlake.sql;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import org.apache.hive.service.cli.session.SessionManager;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.CurrentUserContext$;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.ResolvedNamespace;
import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.catalog.SessionCatalog;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.catalyst.util.StringUtils;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.command.ShowNamespacesCommand;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;

import scala.Option;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.BoxedUnit;

/**
 * What each role of the plantlake SQL endpoint reads: the schemas (lake layers) of its grant,
 * which the endpoint sets as {@code spark.plantlake.sql.role.<role>=gold,silver}. A plan that
 * names a table or schema outside the grant is refused (SELECT, DESCRIBE, SHOW TABLES IN, USE,
 * a view over one); SHOW SCHEMAS lists only the granted ones. The user is the one HiveServer2
 * signed in (its statements run with it in {@code CurrentUserContext}), the role comes from
 * the users file ({@link SqlUsers}) as it is now.
 */
public final class LayerAccess {

  public static final String ROLE_PREFIX = "spark.plantlake.sql.role.";

  /** Schemas any role may name: none (temporary views) and the empty `default`. */
  private static final Set<String> OPEN = Set.of("", "default");

  private LayerAccess() {}

  record Grant(String user, String role, Set<String> schemas) {
    boolean allows(String schema) {
      return OPEN.contains(schema) || schemas.contains(schema);
    }

    SecurityException refusal(String what) {
      String why =
          user == null
              ? "no signed-in user"
              : role == null
                  ? "user " + user + " is not in the users file (any more)"
                  : "role " + role + " reads " + (schemas.isEmpty() ? "nothing" : String.join(", ", schemas));
      return new SecurityException("plantlake SQL endpoint: " + what + " refused (" + why + ")");
    }
  }

  static Grant grant(SparkSession session) {
    String user = CurrentUserContext$.MODULE$.CURRENT_USER().get();
    if (user == null) { // a session opening (its `use:database`) runs on the Thrift thread
      user = SessionManager.getUserName();
    }
    return grant(session, user);
  }

  static Grant grant(SparkSession session, String user) {
    String role = SqlUsers.role(user);
    Set<String> schemas = Set.of();
    if (role != null) {
      Option<String> layers = session.sparkContext().conf().getOption(ROLE_PREFIX + role);
      if (layers.isDefined()) {
        schemas =
            Arrays.stream(layers.get().split(","))
                .map(s -> s.trim().toLowerCase(Locale.ROOT))
                .filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(TreeSet::new));
      }
    }
    return new Grant(user, role, schemas);
  }

  /** Throws a SecurityException naming the first table or schema of `plan` the role may not read. */
  public static void check(SparkSession session, LogicalPlan plan) {
    Grant[] grant = {null};
    plan.foreachWithSubqueries(
        node -> {
          for (String[] named : names(session, node)) {
            if (grant[0] == null) {
              grant[0] = grant(session);
            }
            if (!grant[0].allows(named[0])) {
              throw grant[0].refusal(named[1]);
            }
          }
          return BoxedUnit.UNIT;
        });
  }

  /** Fields of v1 commands that hold a schema as a plain name (SHOW TABLE EXTENDED IN x, …). */
  private static final Set<String> SCHEMA_FIELDS = Set.of("databaseName", "db", "dbName");

  /** {schema, what to call it} of each table or schema `node` names. */
  private static List<String[]> names(SparkSession session, LogicalPlan node) {
    List<String[]> names = new ArrayList<>();
    if (node instanceof ResolvedNamespace) {
      String schema = ((ResolvedNamespace) node).namespace().mkString(".").toLowerCase(Locale.ROOT);
      names.add(new String[] {schema, "schema " + schema});
    }
    if (node instanceof LogicalRelation && ((LogicalRelation) node).catalogTable().isEmpty()) {
      // read by path: table_changes_by_path, Delta's own reads of a table's log
      add(session, names, byPath(session, ((LogicalRelation) node).relation()));
    }
    scala.collection.Iterator<String> fields = node.productElementNames();
    scala.collection.Iterator<Object> values = node.productIterator();
    while (values.hasNext()) {
      Object value = values.next();
      String field = fields.hasNext() ? fields.next() : "";
      if (SCHEMA_FIELDS.contains(field)) {
        Object schema = value instanceof Option ? ((Option<?>) value).getOrElse(() -> null) : value;
        if (schema instanceof String) {
          String name = ((String) schema).toLowerCase(Locale.ROOT);
          names.add(new String[] {name, "schema " + name});
        }
      }
      add(session, names, value);
    }
    return names;
  }

  private static void add(SparkSession session, List<String[]> names, Object field) {
    if (field instanceof Option && ((Option<?>) field).isDefined()) {
      field = ((Option<?>) field).get();
    }
    if (field != null && field.getClass().getSimpleName().equals("DeltaTableV2")) {
      // Delta's commands (DESCRIBE HISTORY, …) hold the table itself, by name or by path
      Option<?> table = (Option<?>) call(field, "catalogTable");
      field = table != null && table.isDefined() ? table.get() : byPath(session, field);
    }
    if (field instanceof CatalogTable) { // a relation's table, or a view's
      field = ((CatalogTable) field).identifier();
    }
    if (field instanceof TableIdentifier) { // v1 commands; no database: a temporary view
      TableIdentifier table = (TableIdentifier) field;
      String schema = table.database().isDefined() ? table.database().get() : "";
      String name = schema.isEmpty() ? table.table() : schema + "." + table.table();
      names.add(new String[] {schema.toLowerCase(Locale.ROOT), "table " + name});
    } else if (field instanceof Identifier) { // v2 relations and commands
      Identifier table = (Identifier) field;
      String schema = String.join(".", table.namespace());
      String name = schema.isEmpty() ? table.name() : schema + "." + table.name();
      names.add(new String[] {schema.toLowerCase(Locale.ROOT), "table " + name});
    }
  }

  /**
   * The catalog table whose folder holds what `relation` reads by path (a Delta table, its
   * change feed, its log); refused when it is no table of the lake's catalog.
   */
  private static CatalogTable byPath(SparkSession session, Object relation) {
    String path = null;
    if (relation instanceof HadoopFsRelation) {
      scala.collection.immutable.Seq<org.apache.hadoop.fs.Path> roots =
          ((HadoopFsRelation) relation).location().rootPaths();
      path = roots.isEmpty() ? null : roots.head().toUri().getPath();
    } else {
      Object table = relation;
      for (String step : new String[] {"snapshotWithSchemaMode", "snapshot", "deltaLog"}) {
        Object next = call(table, step);
        table = next == null ? table : next;
      }
      Object dataPath = call(table, "dataPath");
      if (dataPath == null) {
        dataPath = call(table, "path");
      }
      if (dataPath instanceof org.apache.hadoop.fs.Path) {
        path = ((org.apache.hadoop.fs.Path) dataPath).toUri().getPath();
      }
    }
    if (path != null) {
      CatalogTable owner = tableAt(session.sessionState().catalog(), path);
      if (owner != null) {
        return owner;
      }
    }
    throw new SecurityException(
        "plantlake SQL endpoint: reading "
            + (path == null ? relation.getClass().getSimpleName() : path)
            + " by path refused (only the lake's tables, by name)");
  }

  /** The catalog table whose folder is or holds `path`, or null. */
  private static CatalogTable tableAt(SessionCatalog catalog, String path) {
    try {
      for (String schema : CollectionConverters.asJava(catalog.listDatabases())) {
        for (TableIdentifier id : CollectionConverters.asJava(catalog.listTables(schema))) {
          if (id.database().isEmpty()) {
            continue; // a temporary view
          }
          Option<java.net.URI> location = catalog.getTableMetadata(id).storage().locationUri();
          String folder = location.isDefined() ? location.get().getPath() : null;
          if (folder != null && (path.equals(folder) || path.startsWith(folder + "/"))) {
            return catalog.getTableMetadata(id);
          }
        }
      }
    } catch (Exception e) { // a schema or table dropped while we looked: not found
      return null;
    }
    return null;
  }

  /** `target.name()`, or null when it has no such method. */
  private static Object call(Object target, String name) {
    try {
      return target.getClass().getMethod(name).invoke(target);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /** SHOW SCHEMAS of a client lists only the schemas of its role (and `default`). */
  static final class SchemaFilter extends Rule<LogicalPlan> {
    private final SparkSession session;
    private final Predicate<SparkSession> trusted;

    SchemaFilter(SparkSession session, Predicate<SparkSession> trusted) {
      this.session = session;
      this.trusted = trusted;
    }

    @Override
    public LogicalPlan apply(LogicalPlan plan) {
      if (!(plan instanceof ShowNamespacesCommand) || trusted.test(session)) {
        return plan;
      }
      ShowNamespacesCommand show = (ShowNamespacesCommand) plan;
      Grant grant = grant(session);
      TreeSet<String> visible = new TreeSet<>(grant.schemas());
      visible.add("default");
      List<String> shown = new ArrayList<>(visible);
      if (show.pattern().isDefined()) {
        shown =
            CollectionConverters.asJava(
                StringUtils.filterPattern(
                    CollectionConverters.asScala(shown).toList(), show.pattern().get()));
      }
      // a pattern of exact names; "-" names no schema when none is left
      String pattern = shown.isEmpty() ? "-" : String.join("|", shown);
      return show.copy(show.child(), Option.apply(pattern), show.output());
    }
  }
}
