// The page's WebSocket to the agent (/v1/live): reconnects by itself with a
// growing wait (the agent restarting, the wall screen's Wi-Fi dropping), and
// sends the reader to the login form when the agent says the login is gone.

/** The agent's close code for "log in again" (agent/operations/dashboard/dashboard-hub.ts). */
const CLOSE_UNAUTHORIZED = 4401;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

/**
 * @param {{ onFrame: (frame: any) => void, onState: (state: 'connecting' | 'live' | 'reconnecting') => void }} handlers
 */
export function connectLive(handlers) {
  let retryMs = FIRST_RETRY_MS;
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/live`;

  function open() {
    const socket = new WebSocket(url);
    socket.addEventListener('open', () => {
      retryMs = FIRST_RETRY_MS;
      handlers.onState('live');
    });
    socket.addEventListener('message', (event) => {
      try {
        handlers.onFrame(JSON.parse(event.data));
      } catch (error) {
        console.error('dashboard frame failed', error);
      }
    });
    let opened = false;
    socket.addEventListener('open', () => (opened = true));
    socket.addEventListener('close', async (event) => {
      // A refused upgrade looks like any failed connection (1006); ask whether the
      // login is what is missing before retrying for ever.
      if (event.code === CLOSE_UNAUTHORIZED || (!opened && (await loginGone()))) {
        location.assign('/login');
        return;
      }
      handlers.onState('reconnecting');
      setTimeout(open, retryMs);
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
    });
  }

  async function loginGone() {
    try {
      return (await fetch('/v1/session', { cache: 'no-store' })).status === 401;
    } catch {
      return false; // the agent is down: keep retrying
    }
  }

  handlers.onState('connecting');
  open();
}
