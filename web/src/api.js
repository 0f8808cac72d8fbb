// The console's only way to the daemons: the documented /api/v1 endpoints (docs/api.md).
// A session lives in this browser tab (sessionStorage); a 401 on any call ends it and
// sends the user back to the login page with a notice, keeping the page they were on.
import { reactive } from 'vue'

const KEY = 'tongban.session'

export const session = reactive({
  token: '',
  username: '',
  display_name: '',
  role: '',
  role_zh: '',
  site: '',
  site_name: '',
  expires_at: '',
  expired: false,
})

export const daemon = reactive({ kind: '', site: '', site_name: '', loaded: false })

export class ApiError extends Error {
  constructor(status, code, message, messageEn) {
    super(message || messageEn || `HTTP ${status}`)
    this.status = status
    this.code = code
    this.messageEn = messageEn
  }
}

let onExpired = () => {}
export function whenExpired(fn) {
  onExpired = fn
}

export function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null')
    if (saved && saved.token) Object.assign(session, saved, { expired: false })
  } catch {
    sessionStorage.removeItem(KEY)
  }
}

function saveSession() {
  sessionStorage.setItem(KEY, JSON.stringify({ ...session, expired: false }))
}

export function clearSession() {
  for (const k of Object.keys(session)) session[k] = k === 'expired' ? false : ''
  sessionStorage.removeItem(KEY)
}

export async function api(method, path, body, { raw = false, file = null } = {}) {
  const headers = {}
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  let payload
  if (file) {
    // A file goes as it is: the body is its bytes, its type the browser's guess.
    headers['Content-Type'] = file.type || 'application/octet-stream'
    payload = file
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: payload })
  } catch {
    throw new ApiError(0, 'network', '无法连接服务器，请检查网络', 'cannot reach the server')
  }
  if (raw && res.ok) return res
  const text = await res.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!res.ok) {
    const err = (data && data.error) || {}
    if (res.status === 401 && session.token && path !== '/login') {
      clearSession()
      session.expired = true
      onExpired()
    }
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message, err.message_en)
  }
  return data
}

// Fetches `path` with the session and saves the answer as `fileName` (a license, a CSV).
export async function download(path, fileName) {
  const res = await api('GET', path, undefined, { raw: true })
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = fileName
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 10000)  // after the browser has taken it
}

export const get = (path) => api('GET', path)
export const post = (path, body = {}) => api('POST', path, body)

// Which daemon serves this console: a node (a site) or the district hub.
export async function loadDaemon() {
  if (daemon.loaded) return daemon
  const h = await api('GET', '/healthz')
  if (h.hub) {
    daemon.kind = 'hub'
    daemon.site = h.hub
    daemon.site_name = '区级通办中心'
  } else {
    daemon.kind = 'node'
    daemon.site = h.site
    daemon.site_name = h.site_name
  }
  daemon.loaded = true
  return daemon
}

export async function login(username, password) {
  const r = await api('POST', '/login', { username, password })
  Object.assign(session, {
    token: r.token,
    username: r.username,
    display_name: r.display_name || r.username,
    role: r.role,
    role_zh: r.role_zh,
    site: r.site || daemon.site,
    site_name: daemon.site_name,
    expires_at: r.expires_at,
    expired: false,
  })
  saveSession()
  return r
}

export async function logout() {
  try {
    await api('POST', '/logout')
  } finally {
    clearSession()
  }
}

export function query(params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v)
  const s = q.toString()
  return s ? `?${s}` : ''
}
