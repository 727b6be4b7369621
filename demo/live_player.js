// The live animation, played in the browser (demo/streamlit_player.py sends the frames).
//
// The server decodes a sentence step by step and sends every step's picture as plotly JSON: the first step's as
// soon as the model has taken it, then all of them once the search is over. This draws one frame, waits `delay`
// seconds, draws the next, and stays on the last. The charts are drawn by the page's own plotly.js (the one
// Streamlit loads for its charts), so a frame looks exactly like the chart that replaces it when the animation is
// over. Text is set as text, never as HTML.
//
// data (JSON text): {name, run, delay, config, template, frames: [{figure: {data, layout} | null, note, caption}]}
// (run: a random id per translation; a note-only frame, for a model without attention, needs no plotly.js)
// Each message mounts a new element; where the player stands in a run is kept per name ("heat", "bars"), so the
// second message of a run carries on from the frame on screen instead of starting again.

const players = (window.labPlayers = window.labPlayers || {});

export default function (component) {
  const { parentElement } = component;
  const play = JSON.parse(component.data);
  const root = document.createElement("div");
  root.className = "lab-player";
  root.innerHTML = "<div class='lab-player-note'></div><div class='lab-player-chart'></div>" +
                   "<div class='lab-player-caption'></div>";
  parentElement.querySelector(".lab-player")?.remove();    // this element's earlier frames, if it had any
  parentElement.appendChild(root);               // beside the component's <style>, which must stay
  const chart = root.querySelector(".lab-player-chart");
  const note = root.querySelector(".lab-player-note");
  const caption = root.querySelector(".lab-player-caption");

  let state = players[play.name];
  if (!state || state.run !== play.run) {        // a new translation starts from its first frame
    state = players[play.name] = { run: play.run, shown: 0, at: 0 };
  }
  root.dataset.steps = String(play.frames.length);

  let timer = null;
  const show = (index) => {
    const frame = play.frames[index];
    if (frame.figure) {
      const layout = { ...frame.figure.layout, template: play.template };
      window.Plotly.react(chart, frame.figure.data, layout, { ...play.config, responsive: true });
    }
    chart.hidden = !frame.figure;
    note.hidden = !frame.note;
    note.textContent = frame.note || "";
    caption.hidden = !frame.caption;
    caption.textContent = frame.caption || "";
    root.dataset.step = String(index + 1);       // what the browser tests read: the frame on screen
  };
  const tick = () => {
    const coming = play.frames[Math.min(state.shown, play.frames.length - 1)];
    if (coming.figure && !window.Plotly) {       // Streamlit loads plotly.js with its first chart: wait for it
      timer = setTimeout(tick, 50);
      return;
    }
    if (state.shown > 0 && root.dataset.step === undefined) {
      show(Math.min(state.shown, play.frames.length) - 1);    // the frame on screen, in this new element at once
    }
    const delay = play.delay * 1000;
    const now = performance.now();
    if (state.shown < play.frames.length && (state.shown === 0 || now >= state.at + delay)) {
      show(state.shown);                         // each frame `delay` after the one before, on the clock; one
      state.shown += 1;                          // that came late (the server was busy) is shown when it comes,
      const late = state.shown === 1 || now > state.at + delay + 100;    // and the clock restarts from it:
      state.at = late ? now : state.at + delay;  // no frame is skipped
    }
    if (state.shown < play.frames.length) {
      timer = setTimeout(tick, Math.max(0, state.at + delay - performance.now()));
    }
  };
  tick();

  return () => {
    clearTimeout(timer);
    if (window.Plotly) {
      window.Plotly.purge(chart);
    }
  };
}
