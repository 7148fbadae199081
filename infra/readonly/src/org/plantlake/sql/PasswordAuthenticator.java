package org.plantlake.sql;

import javax.security.sasl.AuthenticationException;

import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/**
 * HiveServer2's password check for the plantlake SQL endpoint
 * ({@code hive.server2.authentication=CUSTOM}): the user and password of a client's login
 * against the users file ({@link SqlUsers}). Hive makes one of these per login.
 */
public final class PasswordAuthenticator implements PasswdAuthenticationProvider {

  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    boolean known;
    try {
      known = SqlUsers.authenticate(user, password);
    } catch (RuntimeException e) { // an unreadable users file lets nobody in
      throw new AuthenticationException("plantlake SQL endpoint: " + e.getMessage(), e);
    }
    if (!known) {
      throw new AuthenticationException(
          "plantlake SQL endpoint: wrong user name or password (accounts: `plantlake users`)");
    }
  }
}
