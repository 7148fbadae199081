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
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.catalyst.util.StringUtils;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.command.ShowNamespacesCommand;

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
          for (String[] named : names(node)) {
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

  /** {schema, what to call it} of each table or schema `node` names. */
  private static List<String[]> names(LogicalPlan node) {
    List<String[]> names = new ArrayList<>();
    if (node instanceof ResolvedNamespace) {
      String schema = ((ResolvedNamespace) node).namespace().mkString(".").toLowerCase(Locale.ROOT);
      names.add(new String[] {schema, "schema " + schema});
    }
    node.productIterator().foreach(field -> add(names, field));
    return names;
  }

  private static BoxedUnit add(List<String[]> names, Object field) {
    if (field instanceof Option && ((Option<?>) field).isDefined()) {
      field = ((Option<?>) field).get();
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
    return BoxedUnit.UNIT;
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
