'use strict';
const { Emitter } = require('./emitter');

function createStore(initialState = {}) {
  const events = new Emitter();
  let state = { ...initialState };

  return {
    getState() {
      return state;
    },

    /** Merge `patch` into the state and notify subscribers with (state, previous). */
    setState(patch) {
      const previous = state;
      state = { ...state, ...patch };
      events.emit('change', state, previous);
    },

    /** Call `fn(state, previous)` after every change. Returns an unsubscribe function. */
    subscribe(fn) {
      return events.on('change', fn);
    },

    /** A promise for the state after the next change. */
    nextChange() {
      return new Promise((resolve) => {
        events.once('change', (newState) => resolve(newState));
      });
    },

    subscriberCount() {
      return events.listenerCount('change');
    },
  };
}

module.exports = { createStore };
