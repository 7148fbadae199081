package org.plantlake.sql;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The accounts of the plantlake SQL endpoint: a users file of PBKDF2-HMAC-SHA256 hashes with a
 * salt of their own and the role of each user, written by `plantlake users` (lakehouse/sql_users.py
 * holds the format). Its path is the system property {@value #FILE_PROPERTY}; it is read again
 * whenever it changes, so added and removed users count from the next login without a restart.
 */
public final class SqlUsers {

  public static final String FILE_PROPERTY = "plantlake.sql.users";

  /** What `plantlake users add` accepts: no '@' or '/', which Hive cuts off a login name. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,63}");

  private static final int DUMMY_ITERATIONS = 600_000;
  private static final byte[] DUMMY_SALT = new byte[16];

  /** Accounts the endpoint makes for itself while it starts (its warm-up), never on disk. */
  private static final Map<String, Account> TRANSIENT = new ConcurrentHashMap<>();

  /** Logins verified since the start, by a digest keyed with this JVM's random pepper. */
  private static final Map<String, byte[]> VERIFIED = new ConcurrentHashMap<>();

  private static final byte[] PEPPER = randomBytes(32);

  private static volatile Snapshot snapshot = new Snapshot(null, Map.of());

  private SqlUsers() {}

  record Account(String role, byte[] salt, int iterations, byte[] hash) {}

  private record Snapshot(List<Object> signature, Map<String, Account> accounts) {}

  /** Whether `password` is the password of `name` (constant-time comparison of the hashes). */
  public static boolean authenticate(String name, String password) {
    if (name == null || password == null || password.isEmpty()) {
      return false;
    }
    Account account = TRANSIENT.get(name);
    if (account == null && NAME.matcher(name).matches()) {
      account = accounts().get(name);
    }
    if (account == null) {
      // as long as a wrong password: the time of a refusal does not tell which names exist
      pbkdf2(password, DUMMY_SALT, DUMMY_ITERATIONS, 32);
      return false;
    }
    // A login that succeeded once is known by a fast digest until the password changes:
    // PBKDF2 costs most of a second here, and clients open a session per query.
    byte[] seen = digest(account.hash(), password);
    byte[] known = VERIFIED.get(name);
    if (known != null && MessageDigest.isEqual(seen, known)) {
      return true;
    }
    byte[] hash = pbkdf2(password, account.salt(), account.iterations(), account.hash().length);
    boolean right = MessageDigest.isEqual(hash, account.hash());
    if (right) {
      VERIFIED.put(name, seen);
    }
    return right;
  }

  private static byte[] randomBytes(int count) {
    byte[] bytes = new byte[count];
    new SecureRandom().nextBytes(bytes);
    return bytes;
  }

  private static byte[] digest(byte[] hash, String password) {
    try {
      MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
      sha256.update(PEPPER);
      sha256.update(hash);
      return sha256.digest(password.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is not available", e);
    }
  }

  /** The role of `name` as the users file says now; null for no such user. */
  public static String role(String name) {
    if (name == null) {
      return null;
    }
    Account account = TRANSIENT.get(name);
    if (account == null) {
      account = accounts().get(name);
    }
    return account == null ? null : account.role();
  }

  /** An account for this JVM only (the endpoint's own warm-up): gone with `forget` or the JVM. */
  public static void addTransient(String name, String role, String password) {
    byte[] salt = randomBytes(16);
    TRANSIENT.put(name, new Account(role, salt, 1, pbkdf2(password, salt, 1, 32)));
  }

  public static void forget(String name) {
    TRANSIENT.remove(name);
  }

  private static Map<String, Account> accounts() {
    String file = System.getProperty(FILE_PROPERTY);
    if (file == null || file.isEmpty()) {
      return Map.of();
    }
    Path path = Paths.get(file);
    List<Object> signature;
    try {
      BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
      // write_private replaces the file: a new inode, a new modification time
      signature =
          List.of(
              Objects.toString(attributes.fileKey()),
              attributes.lastModifiedTime().toString(),
              attributes.size());
    } catch (NoSuchFileException e) {
      return Map.of();
    } catch (IOException e) {
      throw new SecurityException("plantlake SQL endpoint cannot read its users file " + file, e);
    }
    Snapshot current = snapshot;
    if (!signature.equals(current.signature())) {
      current = new Snapshot(signature, read(path));
      snapshot = current;
    }
    return current.accounts();
  }

  private static Map<String, Account> read(Path path) {
    try {
      JsonNode users = new ObjectMapper().readTree(Files.readAllBytes(path)).path("users");
      Map<String, Account> accounts = new HashMap<>();
      Base64.Decoder base64 = Base64.getDecoder();
      for (Map.Entry<String, JsonNode> user : users.properties()) {
        JsonNode entry = user.getValue();
        accounts.put(
            user.getKey(),
            new Account(
                entry.path("role").asText(),
                base64.decode(entry.path("salt").asText()),
                entry.path("iterations").asInt(),
                base64.decode(entry.path("hash").asText())));
      }
      return Map.copyOf(accounts);
    } catch (IOException | IllegalArgumentException e) {
      throw new SecurityException("plantlake SQL endpoint cannot read its users file " + path, e);
    }
  }

  static byte[] pbkdf2(String password, byte[] salt, int iterations, int bytes) {
    PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, 8 * bytes);
    try {
      return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("PBKDF2WithHmacSHA256 is not available", e);
    } finally {
      spec.clearPassword();
    }
  }
}
