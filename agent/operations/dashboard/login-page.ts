// The login form. Plain HTML that works without the page script; the password
// (or the admin token) is posted to /login and answered with a session cookie.
import { DASHBOARD_CSS } from './dashboard-styles.js';
import { escapeHtml } from './dashboard-page.js';

export interface LoginPageOptions {
  hospitalName: string;
  /** Shown above the form after a failed attempt. */
  error?: string;
}

export function renderLoginPage(options: LoginPageOptions): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="dark"><link rel="icon" href="data:,"><title>Wardline · log in · 登录</title>
<style>${DASHBOARD_CSS}
.login{max-width:26rem;margin:12vh auto;padding:1.5rem 2rem}
.login label{display:block;margin:.8rem 0 .3rem;color:var(--muted)}
.login input{width:100%;font:inherit;padding:.5rem .7rem;border-radius:.4rem;border:1px solid var(--line);background:#0d1117;color:var(--text)}
.login button{margin-top:1rem;width:100%;background:#238636;border-color:#2ea043;font-weight:700}
.login .error{color:var(--bad);font-weight:600}
</style></head><body>
<form class="panel login" method="post" action="/login">
  <div class="logo">Wardline</div>
  <div class="hospital">${escapeHtml(options.hospitalName)}</div>
  ${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
  <label for="password">Admin password · 管理员密码</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
  <button type="submit">Log in · 登录</button>
</form>
</body></html>`;
}
