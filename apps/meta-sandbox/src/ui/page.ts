/**
 * The `/_sandbox` page: phone numbers and their conversations as chat bubbles with ticks,
 * for people who would rather look than read logs. The page holds no data: its script
 * asks for the admin token (kept in sessionStorage) and polls `/_sandbox/ui/state` with
 * it. All text goes in through `textContent`, never as HTML.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meta-sandbox</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #f0f2f5; color: #111b21; }
  header { background: #008069; color: #fff; padding: 10px 16px; display: flex; gap: 12px; align-items: center; }
  header h1 { font-size: 16px; margin: 0; flex: 1; }
  header input { width: 260px; padding: 4px 6px; }
  main { display: grid; grid-template-columns: 320px 1fr; height: calc(100vh - 48px); }
  #numbers { overflow-y: auto; background: #fff; border-right: 1px solid #d1d7db; }
  .number { padding: 10px 14px; border-bottom: 1px solid #e9edef; }
  .number h2 { font-size: 14px; margin: 0 0 4px; }
  .meta { color: #667781; font-size: 12px; }
  .chat { padding: 6px 10px; cursor: pointer; border-radius: 6px; margin-top: 4px; }
  .chat:hover, .chat.active { background: #f0f2f5; }
  #thread { overflow-y: auto; padding: 16px 8%; background: #efeae2; }
  .bubble { max-width: 65%; margin: 4px 0; padding: 6px 9px 4px; border-radius: 8px; box-shadow: 0 1px 0.5px rgba(0,0,0,.13); clear: both; }
  .in { float: left; background: #fff; }
  .out { float: right; background: #d9fdd3; }
  .foot { font-size: 11px; color: #667781; text-align: right; margin-top: 2px; }
  .tick-read, .tick-played { color: #53bdeb; }
  .tick-failed { color: #d93025; }
  #status { font-size: 12px; }
  .empty { color: #667781; padding: 24px; }
</style>
</head>
<body>
<header>
  <h1>meta-sandbox</h1>
  <span id="status"></span>
  <input id="token" type="password" placeholder="SANDBOX_ADMIN_TOKEN" autocomplete="off">
</header>
<main>
  <section id="numbers"><p class="empty">Enter the admin token to see phone numbers.</p></section>
  <section id="thread"><p class="empty">Pick a conversation.</p></section>
</main>
<script src="/_sandbox/ui.js"></script>
</body>
</html>
`;

export const PAGE_JS = `'use strict';
const tokenInput = document.getElementById('token');
const numbersEl = document.getElementById('numbers');
const threadEl = document.getElementById('thread');
const statusEl = document.getElementById('status');
let selected = null;
// A token in the fragment (/_sandbox#token=…; never sent to the server) is kept for the tab.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { sessionStorage.setItem('sandboxToken', fromHash); history.replaceState(null, '', location.pathname); }
tokenInput.value = sessionStorage.getItem('sandboxToken') || '';
tokenInput.addEventListener('change', () => { sessionStorage.setItem('sandboxToken', tokenInput.value); refresh(); });

const TICKS = { accepted: '🕓', sent: '✓', delivered: '✓✓', read: '✓✓', played: '✓✓ ▶', failed: '⚠' };
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
function time(ms) { return new Date(ms).toLocaleTimeString(); }

function render(numbers) {
  numbersEl.replaceChildren();
  if (numbers.length === 0) numbersEl.append(el('p', 'empty', 'No phone numbers yet: seed the world (POST /_sandbox/world).'));
  let current = null;
  // Until someone picks one, show the first conversation there is.
  if (!selected) {
    const first = numbers.find((n) => n.conversations.length > 0);
    if (first) selected = first.id + ':' + first.conversations[0].waId;
  }
  for (const n of numbers) {
    const box = el('div', 'number');
    box.append(el('h2', '', '+' + n.display + ' · ' + n.verifiedName));
    box.append(el('div', 'meta', 'quality ' + n.qualityRating + ' · ' + n.messagingLimit + ' · ' + n.throughputMps + ' mps' + (n.registered ? '' : ' · not registered')));
    for (const c of n.conversations) {
      const key = n.id + ':' + c.waId;
      const last = c.bubbles[c.bubbles.length - 1];
      const chat = el('div', 'chat' + (key === selected ? ' active' : ''));
      chat.append(el('div', '', c.name + ' (+' + c.waId + ')'));
      if (last) chat.append(el('div', 'meta', last.text));
      chat.addEventListener('click', () => { selected = key; render(numbers); });
      box.append(chat);
      if (key === selected) current = c;
    }
    numbersEl.append(box);
  }
  threadEl.replaceChildren();
  if (!current) { threadEl.append(el('p', 'empty', 'Pick a conversation.')); return; }
  for (const b of current.bubbles) {
    const bubble = el('div', 'bubble ' + b.direction);
    bubble.append(el('div', '', b.text));
    const foot = el('div', 'foot', time(b.at) + ' ');
    if (b.direction === 'out') {
      const tick = el('span', 'tick-' + b.status, TICKS[b.status] || '');
      tick.title = b.status + (b.errorCode ? ' (' + b.errorCode + ')' : '');
      foot.append(tick);
      if (b.errorCode) foot.append(el('span', 'tick-failed', ' ' + b.errorCode));
    }
    bubble.append(foot);
    threadEl.append(bubble);
  }
}

async function refresh() {
  const token = tokenInput.value;
  if (!token) return;
  try {
    const res = await fetch('/_sandbox/ui/state', { headers: { authorization: 'Bearer ' + token } });
    if (!res.ok) { statusEl.textContent = res.status === 401 ? 'wrong token' : 'error ' + res.status; return; }
    statusEl.textContent = 'updated ' + new Date().toLocaleTimeString();
    render((await res.json()).numbers);
  } catch (error) {
    statusEl.textContent = 'sandbox unreachable';
  }
}
refresh();
setInterval(refresh, 2000);
`;
