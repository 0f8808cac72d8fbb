// Hash history: every page is /console/#/…, so the daemons serve one index.html and
// never need a fallback route.
import { createRouter, createWebHashHistory } from 'vue-router'
import { session, daemon, loadDaemon } from './api.js'

const routes = [
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { open: true } },
  { path: '/', name: 'home', redirect: () => homeOf() },
  // node
  { path: '/queue', name: 'queue', component: () => import('./views/QueueView.vue'), meta: { roles: ['clerk', 'reviewer', 'admin'] } },
  { path: '/inbox', name: 'inbox', component: () => import('./views/InboxView.vue'), meta: { roles: ['reviewer'] } },
  { path: '/new', name: 'new', component: () => import('./views/NewCaseView.vue'), meta: { roles: ['clerk', 'agent'] } },
  { path: '/cases', name: 'cases', component: () => import('./views/CasesView.vue') },
  { path: '/cases/:id', name: 'case', component: () => import('./views/CaseView.vue'), props: true },
  { path: '/appointments', name: 'appointments', component: () => import('./views/AppointmentsView.vue'), meta: { roles: ['clerk', 'agent', 'admin', 'reviewer'] } },
  { path: '/staff', name: 'staff', component: () => import('./views/StaffView.vue'), meta: { roles: ['admin'] } },
  { path: '/agent', name: 'agent', component: () => import('./views/AgentHome.vue'), meta: { roles: ['agent'] } },
  { path: '/rate/:token', name: 'rate', component: () => import('./views/RateView.vue'), meta: { open: true } },
  { path: '/verify', name: 'verify', component: () => import('./views/VerifyView.vue'), meta: { open: true } },
  { path: '/print/:kind/:id', name: 'print', component: () => import('./views/PrintView.vue'), props: true, meta: { bare: true } },
  // hub
  { path: '/board', name: 'board', component: () => import('./views/BoardView.vue'), meta: { roles: ['operator', 'supervisor'] } },
  { path: '/dispatch', name: 'dispatch', component: () => import('./views/DispatchView.vue'), meta: { roles: ['operator'] } },
  { path: '/stats', name: 'stats', component: () => import('./views/StatsView.vue'), meta: { roles: ['operator', 'supervisor'] } },
  { path: '/alerts', name: 'alerts', component: () => import('./views/AlertsView.vue'), meta: { roles: ['operator', 'supervisor'] } },
  { path: '/ratings', name: 'ratings', component: () => import('./views/RatingsView.vue'), meta: { roles: ['operator', 'supervisor'] } },
  { path: '/public/ratings', name: 'public-ratings', component: () => import('./views/PublicRatingsView.vue'), meta: { open: true, bare: true } },
  { path: '/officer-issues', name: 'officer-issues', component: () => import('./views/OfficerIssuesView.vue'), meta: { roles: ['operator', 'supervisor', 'officer'] } },
  { path: '/public/officer-issues', name: 'public-officer-issues', component: () => import('./views/PublicIssuesView.vue'), meta: { open: true, bare: true } },
  { path: '/intermediaries', name: 'intermediaries', component: () => import('./views/IntermediariesView.vue'), meta: { roles: ['operator', 'supervisor'] } },
  { path: '/audit', name: 'audit', component: () => import('./views/AuditView.vue'), meta: { roles: ['operator', 'supervisor'] } },
  { path: '/:rest(.*)*', redirect: '/' },
]

export function homeOf() {
  if (!session.token) return '/login'
  switch (session.role) {
    case 'operator':
      return '/board'
    case 'supervisor':
      return '/alerts'
    case 'officer':
      return '/officer-issues'
    case 'agent':
      return '/agent'
    case 'reviewer':
      return '/inbox'
    case 'admin':
      return '/queue'
    default:
      return '/queue'
  }
}

export const router = createRouter({ history: createWebHashHistory(), routes })

router.beforeEach(async (to) => {
  try {
    await loadDaemon()
  } catch {
    /* the login page says the server cannot be reached */
  }
  if (to.meta.open) return true
  if (!session.token) return { name: 'login', query: { next: to.fullPath } }
  if (to.meta.roles && !to.meta.roles.includes(session.role)) return homeOf()
  if (daemon.kind === 'hub' && ['queue', 'inbox', 'new', 'appointments', 'staff', 'agent'].includes(to.name)) return '/board'
  return true
})
