// A signed-in user's own jobs, live. README "Show users their own jobs" explains the SQL
// this relies on: my_jobs(), the owner-only columns and RLS of job_queue and
// job_dead_letter, and their place in the supabase_realtime publication.
'use strict';

const JOB_LIMIT = 50;
const jobs = new Map(); // job id -> the row as my_jobs() returns it
let client = null;
let channel = null;

const $ = (id) => document.getElementById(id);
const say = (text) => { $('status').textContent = text; };

async function start(url, key) {
  client = window.supabase.createClient(url, key);
  const { data } = await client.auth.getSession();
  if (data.session) await showJobs(data.session.user);
}

async function signIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  localStorage.setItem('user-jobs.project', JSON.stringify({ url: form.get('url'), key: form.get('key') }));
  client = window.supabase.createClient(form.get('url'), form.get('key'));
  const { data, error } = await client.auth.signInWithPassword({
    email: form.get('email'), password: form.get('password'),
  });
  if (error) return say(`Sign-in failed: ${error.message}`);
  await showJobs(data.user);
}

async function showJobs(user) {
  $('sign-in').hidden = true;
  $('jobs').hidden = false;
  say(`Signed in as ${user.email}. Connecting…`);
  subscribe(user.id);
}

// Realtime checks each change against RLS as this user, so the owner_id filter is for
// speed, not safety. INSERT and UPDATE only: DELETE events cannot be checked against RLS
// or filtered, and a job that leaves job_queue by failing shows up in job_dead_letter.
function subscribe(userId) {
  const mine = { schema: 'public', filter: `owner_id=eq.${userId}` };
  channel = client.channel(`my-jobs-${userId}`)
    .on('postgres_changes', { ...mine, event: 'INSERT', table: 'job_queue' }, (c) => merge(c.new))
    .on('postgres_changes', { ...mine, event: 'UPDATE', table: 'job_queue' }, (c) => merge(c.new))
    .on('postgres_changes', { ...mine, event: 'INSERT', table: 'job_dead_letter' }, (c) => failed(c.new))
    .on('postgres_changes', { ...mine, event: 'UPDATE', table: 'job_dead_letter' }, (c) => failed(c.new))
    .subscribe((status, err) => {
      // (Re)subscribed: load the list, so nothing that changed while connecting is missed.
      if (status === 'SUBSCRIBED') { say('Live.'); load(); }
      else if (status !== 'CLOSED') say(`Realtime ${status}${err ? `: ${err.message}` : ''}; retrying…`);
    });
}

async function load() {
  const { data, error } = await client.rpc('my_jobs', { p_limit: JOB_LIMIT });
  if (error) return say(`Could not load your jobs: ${error.message}`);
  jobs.clear();
  for (const job of data) jobs.set(job.id, job);
  render();
}

// An UPDATE's record may leave out a large result it did not change: keep what we had.
function merge(row) {
  jobs.set(row.id, { ...(jobs.get(row.id) || {}), ...row });
  render();
}

function failed(letter) {
  merge({ id: letter.job_id, type: letter.type, status: 'failed', finished_at: letter.failed_at,
          created_at: letter.job_created_at, replayed_job_id: letter.replayed_job_id });
}

function render() {
  const rows = [...jobs.values()]
    .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
    .slice(0, JOB_LIMIT);
  $('rows').replaceChildren(...rows.map(row));
}

function row(job) {
  const tr = document.createElement('tr');
  const cell = (...children) => { const td = document.createElement('td'); td.append(...children); tr.append(td); };
  cell(text(job.type), document.createElement('br'), text(job.id, 'muted'));
  cell(text(job.replayed_job_id ? 'failed, retried' : job.status, job.status));
  const bar = document.createElement('progress');
  bar.max = 100;
  bar.value = job.status === 'completed' ? 100 : (job.progress || 0);
  cell(bar, text(job.progress_message ? ` ${job.progress_message}` : ''));
  const result = document.createElement('pre');
  result.textContent = job.result == null ? '' : JSON.stringify(job.result, null, 1);
  cell(result);
  return tr;
}

function text(value, className) {
  const span = document.createElement('span');
  span.textContent = value ?? '';
  if (className) span.className = className;
  return span;
}

async function signOut() {
  if (channel) await client.removeChannel(channel);
  await client.auth.signOut();
  jobs.clear();
  render();
  $('jobs').hidden = true;
  $('sign-in').hidden = false;
  say('Signed out.');
}

$('sign-in').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', signOut);
const saved = JSON.parse(localStorage.getItem('user-jobs.project') || 'null');
if (saved) {
  $('sign-in').elements.url.value = saved.url;
  $('sign-in').elements.key.value = saved.key;
  start(saved.url, saved.key);
}
