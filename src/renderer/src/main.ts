import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { useSystem } from './stores/system'
import './styles.css'

const app = createApp(App)
app.use(createPinia())
useSystem().watchConnection()
app.mount('#app')
