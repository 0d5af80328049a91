import { render } from 'preact';
import './style.css';

function App() {
  return (
    <main class="signin">
      <h1>baton</h1>
    </main>
  );
}

render(<App />, document.getElementById('app')!);
