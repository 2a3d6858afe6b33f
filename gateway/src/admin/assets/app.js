// The operators' dashboard: asks for the admin token once (kept in this tab's
// sessionStorage), then polls the JSON endpoints under /admin/api/ and fills the
// page. All data is written with textContent, never as markup.
'use strict';

(() => {
  const KEY = 'm2m-admin-token';
  const EVERY = { queues: 2000, processing: 5000, deadLetters: 5000, jobs: 10000 };
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(KEY);
  let timers = {};
  let generation = 0;

  class Refused extends Error {}

  function messageOf(body, fallback) {
    return (body && body.error && body.error.message) || fallback;
  }

  async function api(path, options) {
    const response = await fetch(path, {
      method: (options && options.method) || 'GET',
      headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
      cache: 'no-store',
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.status === 401 || response.status === 403) {
      throw new Refused(messageOf(body, 'The token was refused.'));
    }
    if (!response.ok) {
      throw new Error(messageOf(body, 'HTTP ' + response.status));
    }
    return body;
  }

  function text(tag, value, className) {
    const element = document.createElement(tag);
    element.textContent = value === null || value === undefined ? '–' : String(value);
    if (className) element.className = className;
    return element;
  }

  function row(values) {
    const tr = document.createElement('tr');
    for (const value of values) {
      tr.appendChild(value instanceof Node ? value : text('td', value));
    }
    return tr;
  }

  function replaceRows(tbody, rows, emptyText, columns) {
    tbody.replaceChildren(...rows);
    if (rows.length === 0) {
      const cell = text('td', emptyText, 'empty');
      cell.colSpan = columns;
      tbody.appendChild(row([cell]));
    }
  }

  function plural(count, noun) {
    return count + ' ' + noun + (count === 1 ? '' : 's');
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return ms + ' ms';
    if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
    return (ms / 60000).toFixed(1) + ' min';
  }

  function rate(value) {
    if (value === null || value === undefined) return '–';
    const fixed = value.toFixed(1);
    return value > 0 ? '+' + fixed : fixed;
  }

  function time(iso) {
    return iso ? iso.replace('T', ' ').replace(/\.\d+/, '') : '–';
  }

  function renderQueues(data) {
    for (const queue of data.queues) {
      const tr = document.querySelector('tr[data-queue="' + CSS.escape(queue.name) + '"]');
      if (!tr) continue;
      tr.classList.toggle('missing', !queue.exists);
      tr.querySelector('.ready').textContent = queue.exists ? queue.ready : 'missing';
      tr.querySelector('.consumers').textContent = queue.exists ? queue.consumers : '–';
      tr.querySelector('.rate').textContent = rate(queue.change_per_sec);
      tr.classList.toggle('alert', queue.role === 'dead_letters' && queue.ready > 0);
    }
    $('updated').textContent = 'updated ' + time(data.at);
  }

  function renderProcessing(data) {
    $('p50').textContent = duration(data.latency.p50_ms);
    $('p99').textContent = duration(data.latency.p99_ms);
    $('max').textContent = duration(data.latency.max_ms);
    $('sample').textContent = data.latency.games +
      (data.latency.since ? ' (analysed since ' + time(data.latency.since) + ')' : '');
    $('processed').textContent = data.last_minute.processed;
    $('failed').textContent = data.last_minute.failed;
    const rows = data.failures.map((f) => row([time(f.analysed_at), text('td', f.game_id, 'long'),
      text('td', f.user_id, 'long'), f.exercise, f.reason]));
    replaceRows($('failures').tBodies[0], rows, 'No failed analyses.', 5);
  }

  function renderDeadLetters(data) {
    const shown = data.letters.length;
    $('dlq-summary').textContent = plural(data.total, 'dead letter') + ' in ' + data.queue +
      (shown < data.total ? ' (the oldest ' + shown + ' shown)' : '');
    const rows = data.letters.map((letter) => {
      const button = text('button', 'Redrive', 'redrive');
      button.type = 'button';
      button.dataset.id = letter.id;
      button.title = 'Send it back to ' + (letter.queue || 'the work queue of its type');
      button.addEventListener('click', () => redrive(letter.id, button));
      const action = document.createElement('td');
      action.appendChild(button);
      const tr = row([time(letter.died_at), text('td', letter.type, 'long'),
        text('td', letter.queue, 'long'), letter.tries, letter.by, letter.reason,
        text('td', letter.game_id, 'long'), text('td', letter.id, 'long'), action]);
      tr.dataset.id = letter.id;
      return tr;
    });
    replaceRows($('dead-letters').tBodies[0], rows, 'The dead-letter queue is empty.', 9);
  }

  function renderJobs(data) {
    const blocks = data.jobs.map((job) => {
      const section = document.createElement('div');
      section.className = 'job';
      section.appendChild(text('h3', job.job));
      const table = document.createElement('table');
      table.appendChild(row(['finished', 'ago', 'window', 'summary'].map((h) => text('th', h))));
      for (const run of job.runs) {
        const ago = run.age_secs === null ? null : duration(run.age_secs * 1000);
        table.appendChild(row([time(run.finished_at), ago,
          run.window + (run.manual ? ' (manual)' : ''), text('td', JSON.stringify(run.summary), 'long')]));
      }
      if (job.runs.length === 0) {
        const cell = text('td', 'No completed run recorded.', 'empty');
        cell.colSpan = 4;
        table.appendChild(row([cell]));
      }
      section.appendChild(table);
      return section;
    });
    $('jobs').replaceChildren(...blocks);
  }

  async function redrive(id, button) {
    button.disabled = true;
    $('dlq-status').textContent = 'Redriving ' + id + '…';
    try {
      const done = await api('/admin/api/dead-letters/' + encodeURIComponent(id) + '/redrive',
        { method: 'POST' });
      $('dlq-status').textContent = 'Redriven ' + done.id + ' to ' + done.queue + '.';
    } catch (error) {
      if (error instanceof Refused) return signOut(error.message);
      $('dlq-status').textContent = 'Not redriven: ' + error.message;
      button.disabled = false;
    }
    refresh('deadLetters');
    refresh('queues');
  }

  const PANELS = {
    queues: ['/admin/api/queues', renderQueues, 'queues-error'],
    processing: ['/admin/api/processing', renderProcessing, 'processing-error'],
    deadLetters: ['/admin/api/dead-letters', renderDeadLetters, 'dead-letters-error'],
    jobs: ['/admin/api/jobs', renderJobs, 'jobs-error'],
  };

  // Polls one panel: one request at a time, the next scheduled when it ends. A
  // refresh asked for while one is in flight runs as soon as that one ends.
  const busy = {};
  async function refresh(name) {
    if (busy[name]) {
      busy[name] = 'again';
      return;
    }
    busy[name] = true;
    clearTimeout(timers[name]);
    const [path, render, errorId] = PANELS[name];
    const mine = generation;
    try {
      render(await api(path));
      $(errorId).textContent = '';
    } catch (error) {
      if (error instanceof Refused) {
        busy[name] = false;
        return signOut(error.message);
      }
      $(errorId).textContent = 'Could not refresh: ' + error.message;
    }
    const again = busy[name] === 'again';
    busy[name] = false;
    if (!token) return;
    if (again) return refresh(name);
    if (mine === generation) timers[name] = setTimeout(() => refresh(name), EVERY[name]);
  }

  function start() {
    generation += 1;
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('sign-out').hidden = false;
    for (const name of Object.keys(PANELS)) refresh(name);
  }

  function signOut(message) {
    generation += 1;
    for (const timer of Object.values(timers)) clearTimeout(timer);
    timers = {};
    token = null;
    sessionStorage.removeItem(KEY);
    $('dashboard').hidden = true;
    $('sign-out').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('updated').textContent = 'not signed in';
  }

  async function signIn(event) {
    event.preventDefault();
    token = $('token').value.trim();
    $('login-error').textContent = '';
    try {
      await api('/admin/api/queues');
    } catch (error) {
      return signOut(error instanceof Refused ? error.message : 'Sign-in failed: ' + error.message);
    }
    sessionStorage.setItem(KEY, token);
    $('token').value = '';
    start();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', signIn);
    $('sign-out').addEventListener('click', () => signOut('Signed out.'));
    if (token) start();
  });
})();
