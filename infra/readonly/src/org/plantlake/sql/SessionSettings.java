package org.plantlake.sql;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.WeakHashMap;

import org.apache.hadoop.hive.ql.session.SessionState;
import org.apache.hive.service.Service;
import org.apache.hive.service.cli.CLIService;
import org.apache.hive.service.cli.HiveSQLException;
import org.apache.hive.service.cli.SessionHandle;
import org.apache.hive.service.cli.session.HiveSession;
import org.apache.hive.service.cli.session.SessionManager;
import org.apache.hive.service.server.HiveServer2;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.hive.thriftserver.server.SparkSQLOperationManager;

/**
 * Settings a client gives when it opens its session: the JDBC URL's {@code ;?key=value} (sent
 * as {@code set:hiveconf:key}) and {@code #key=value} ({@code set:hivevar:key}) reach the
 * client's Spark session without a SET statement, so the SET check never sees them. A session
 * holding one outside the SET allow-list has each of its statements refused, naming the key.
 * The keys are those of the client's Hive session, found through the Thrift server.
 */
public final class SessionSettings {

  private static volatile SessionManager sessions;

  /** Client sessions already found clean (their opening settings do not change afterwards). */
  private static final Set<SparkSession> CLEAN =
      Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

  private SessionSettings() {}

  /** Check the sessions of `server` (the endpoint calls it once the Thrift server is up). */
  public static void watch(HiveServer2 server) {
    for (Service service : server.getServices()) {
      if (service instanceof CLIService) {
        sessions = ((CLIService) service).getSessionManager();
      }
    }
  }

  /** Throws a SecurityException if `session` was opened with a setting outside `settable`. */
  static void check(SparkSession session, LogicalPlan plan, Set<String> settable) {
    if (CLEAN.contains(session)) {
      return;
    }
    HiveSession client = find(session);
    if (client == null) {
      // A session being opened runs its `use:database` before the server lists it.
      if (plan.getClass().getSimpleName().equals("SetCatalogAndNamespace")) {
        return;
      }
      throw new SecurityException(
          "plantlake SQL endpoint: a statement of a session the Thrift server does not know refused");
    }
    SessionState state = client.getSessionState();
    for (Map<String, String> given :
        List.of(state.getOverriddenConfigurations(), state.getHiveVariables())) {
      for (Map.Entry<String, String> setting : given.entrySet()) {
        String key = setting.getKey();
        // Hive counts the server's Hive system properties (its password check) as overridden
        boolean server = setting.getValue().equals(System.getProperty(key));
        if (!server && !settable.contains(key)) {
          throw new SecurityException(
              "plantlake SQL endpoint: session setting "
                  + key
                  + " refused (given when the session was opened; a client may set only "
                  + String.join(", ", new TreeSet<>(settable))
                  + ")");
        }
      }
    }
    CLEAN.add(session);
  }

  private static HiveSession find(SparkSession session) {
    SessionManager manager = sessions;
    if (manager == null) {
      return null;
    }
    Map<SessionHandle, SparkSession> contexts =
        ((SparkSQLOperationManager) manager.getOperationManager()).sessionToContexts();
    for (Map.Entry<SessionHandle, SparkSession> entry : contexts.entrySet()) {
      if (entry.getValue() == session) {
        try {
          return manager.getSession(entry.getKey());
        } catch (HiveSQLException e) { // closed meanwhile
          return null;
        }
      }
    }
    return null;
  }
}
