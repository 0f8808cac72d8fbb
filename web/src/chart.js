// One ECharts instance for a component: made on first draw, resized with the window,
// disposed with the component. `setup(chart)` runs once on the new instance (a click handler).
import { onMounted, onBeforeUnmount } from 'vue'
import * as echarts from 'echarts/core'
import { BarChart, LineChart } from 'echarts/charts'
import { GridComponent, TooltipComponent, LegendComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer])

export function useChart(elRef, setup = null) {
  let chart = null
  const resize = () => chart && chart.resize()
  onMounted(() => window.addEventListener('resize', resize))
  onBeforeUnmount(() => {
    window.removeEventListener('resize', resize)
    if (chart) chart.dispose()
  })
  // Draws `option` (replacing what was drawn, or merged into it: a refresh animates from
  // the last figures); nothing while the element is not there.
  return function draw(option, replace = true) {
    if (!elRef.value) return
    if (!chart) {
      chart = echarts.init(elRef.value)
      if (setup) setup(chart)
    }
    chart.setOption(option, replace)
  }
}
