// How the console names statuses, clocks, events and dates in Chinese.
export const clockLabel = {
  none: '未计时',
  normal: '正常',
  yellow: '临近期限',
  red: '已超期',
  paused: '已中止',
  done: '已办结',
  rating: '待评价',
}
export const clockTag = {
  none: 'info',
  normal: 'success',
  yellow: 'warning',
  red: 'danger',
  paused: 'info',
  done: '',
  rating: 'primary',
}

export const statusTag = {
  prereview: 'info',
  prereviewed: 'info',
  submitted: 'warning',
  awaiting_materials: 'warning',
  accepted: 'primary',
  in_review: 'primary',
  suspended: 'info',
  approved: 'success',
  denied: 'danger',
  delivered: 'success',
  refused: 'danger',
  withdrawn: 'info',
  terminated: 'info',
}

export const eventLabel = {
  'case.prereview_started': '网上预审',
  'case.prereview_outcome': '预审意见',
  'case.submitted': '提交申请',
  'case.materials_requested': '一次性告知补正',
  'case.materials_supplied': '补交材料',
  'case.accepted': '受理',
  'case.refused': '不予受理',
  'case.review_started': '开始审查',
  'case.suspended': '中止（暂停计时）',
  'case.resumed': '恢复办理',
  'case.decided': '作出决定',
  'case.license_issued': '签发电子证照',
  'case.withdrawn': '撤回申请',
  'case.terminated': '终止办理',
  'case.delivered': '送达',
  'case.rated': '办件评价',
  'case.callback_done': '差评回访',
  'case.rectified': '差评整改',
  'case.appointment_booked': '预约',
  'case.appointment_checked_in': '预约签到',
  'case.appointment_cancelled': '取消预约',
  'case.handed_over': '跨区移交',
  'case.transfer_requested': '申请跨区流转',
  'case.released': '移出本站',
  'case.received': '接收案卷',
  'case.taken': '接办',
  'case.returned': '退回',
  'case.conflict_resolved': '冲突已处理',
  'case.document_attached': '上传电子材料',
  'case.document_viewed': '查阅电子材料',
  'case.rectification_ordered': '监察整改通知',
  'case.rectification_answered': '答复整改通知',
  'case.rating_appealed': '差评申诉',
  'case.rating_appeal_decided': '申诉复核决定',
}

// 电子监察 severities (the hub's alerts and the rectification orders they lead to).
export const severityTag = { notice: 'info', yellow: 'warning', red: 'danger' }
export const severityLabel = { notice: '提示', yellow: '黄牌', red: '红牌' }

export const materialStatus = {
  provided: { label: '已提交', tag: 'success' },
  committed: { label: '告知承诺', tag: 'primary' },
  tolerated: { label: '容缺后补', tag: 'warning' },
  missing: { label: '缺失', tag: 'danger' },
}

export const appointmentStatus = { booked: '已预约', checked_in: '已签到', cancelled: '已取消' }
export const deliveryLabel = { window: '窗口领取', post: '邮寄送达', electronic: '电子送达' }
export const suspendReasons = {
  correction: '补正材料',
  hearing: '听证',
  testing: '检验检测',
  expert_review: '专家评审',
}
export const transferLabel = {
  none: '本站办理',
  requested: '待调度',
  dispatched: '已派发待接办',
  taken: '已接办',
  returned: '已退回',
}
export const itemType = {
  license: '行政许可',
  confirmation: '行政确认',
  payment: '行政给付',
  filing: '行政备案',
  public_service: '公共服务',
  other: '其他行政权力',
}
export const channelLabel = { window: '窗口', online: '网上', mobile: '移动端', agent: '代办' }
export const priorityGroups = {
  elderly: '老年人',
  disabled: '残疾人',
  other: '其他',
}

export function fmtTime(t) {
  if (!t) return ''
  const d = new Date(t)
  if (isNaN(d)) return t
  const p = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`
}

export function today() {
  const d = new Date()
  const p = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`
}

// The server's ID-number check, as typed (the server has the last word: its message is shown).
export function idNumberProblem(id) {
  if (!id) return '请输入身份证号码'
  if (!/^\d{17}[\dXx]$/.test(id)) return '身份证号码应为18位（最后一位可为X）'
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  const codes = '10X98765432'
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * w[i]
  if (codes[sum % 11] !== id[17].toUpperCase()) return '身份证号码校验位错误'
  return ''
}
export function phoneProblem(p) {
  if (!p) return ''
  return /^1[3-9]\d{9}$/.test(p) ? '' : '手机号码应为11位，以1开头'
}
export function usccProblem(u) {
  if (!u) return '请输入统一社会信用代码'
  const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY'
  const w = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
  const s = u.toUpperCase()
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(s)) return '统一社会信用代码应为18位数字或大写字母'
  let sum = 0
  for (let i = 0; i < 17; i++) sum += chars.indexOf(s[i]) * w[i]
  const c = (31 - (sum % 31)) % 31
  return chars[c] === s[17] ? '' : '统一社会信用代码校验位错误'
}
