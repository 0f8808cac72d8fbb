// 区级调度: an operator finds a red (overdue) case on the district board, opens it from
// there, and sees every site's link; the dispatch page shows its queues.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startDistrict, browser, page, shot, loginAs, api, token, fileCase } from './harness.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test('an operator finds a red case on the board', async () => {
  // S02's clock runs 40 days behind: what it accepts "today" is long overdue at the hub.
  const d = await startDistrict(['S01', 'S02'], { nodeArgs: { S02: ['--clock-offset-seconds', String(-40 * 86400)] } })
  const b = await browser()
  try {
    const t = await token(d.sites.S02, 'clerk')
    const late = await fileCase(d.sites.S02, t, { name: '孙立华', born: '19580101', serial: '033', phone: '13600002222', accept: true })
    const t1 = await token(d.sites.S01, 'clerk')
    const fresh = await fileCase(d.sites.S01, t1, { name: '周文', born: '19700202', serial: '017', phone: '13600003333', accept: true })
    // Both cases reach the hub.
    const op = await token(d.hub, 'operator')
    for (let i = 0; i < 200; i++) {
      const s = await api(d.hub, 'GET', '/sites', undefined, op)
      const by = Object.fromEntries(s.sites.map((x) => [x.site, x]))
      if (by.S01.cases.open === 1 && by.S02.cases.red === 1) break
      await sleep(100)
    }

    const p = await page(b)
    await loginAs(p, d.hub, 'operator')
    await p.getByRole('heading', { name: '区域总览' }).waitFor()
    await p.getByRole('img', { name: /各站点在办案件/ }).waitFor()
    // The overdue list names S02's case and not S01's.
    await p.getByRole('link', { name: late.case_id }).waitFor()
    assert.equal(await p.getByRole('link', { name: fresh.case_id }).count(), 0)
    await p.getByText('鱼化寨街道便民服务中心').waitFor()
    await p.waitForTimeout(600)  // the chart's entry animation
    await shot(p, 'operator-board')

    await p.getByRole('link', { name: late.case_id }).click()
    await p.getByRole('status', { name: '办件状态' }).waitFor()
    await p.getByText('时限：已超期').waitFor()
    await p.getByRole('button', { name: '跨区移交' }).waitFor()
    // The hub holds the applicant sealed: the name shows only after a stated reason.
    assert.equal(await p.getByText('孙立华').count(), 0)
    await p.getByText('（已加密）').first().waitFor()
    await shot(p, 'operator-case')
    await p.getByRole('button', { name: '查看个人信息' }).click()
    await p.getByRole('dialog', { name: '查看个人信息' }).getByRole('textbox').fill('核实超期案件申请人')
    await p.getByRole('button', { name: '查看', exact: true }).click()
    await p.getByText('孙立华').waitFor()
    const reads = await api(d.hub, 'GET', '/audit/personal-reads', undefined, op)
    assert.equal(reads.reads[0].case_id, late.case_id)
    assert.equal(reads.reads[0].reason, '核实超期案件申请人')
    await shot(p, 'operator-case-revealed')

    // Any case of any site by its number.
    await p.getByRole('menuitem', { name: '案件查询' }).click()
    await p.getByRole('textbox', { name: '办件编号' }).fill(fresh.case_id)
    await p.getByRole('button', { name: '查询' }).click()
    await p.getByRole('link', { name: fresh.case_id }).waitFor()
    // The list before the query showed every case: wait for the answer to replace it.
    await p.getByRole('link', { name: late.case_id }).waitFor({ state: 'detached' })
    await shot(p, 'operator-search')

    await p.getByRole('menuitem', { name: '调度与冲突' }).click()
    await p.getByRole('tab', { name: /待调度（0）/ }).waitFor()
    await shot(p, 'operator-dispatch')
    assert.deepEqual(p.errors, [])
  } finally {
    await b.close()
    d.stop()
  }
})
