'use strict';

class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  /** Call `listener` on every `event`. Returns a function that removes it again. */
  on(event, listener) {
    if (typeof listener !== 'function') {
      throw new TypeError('listener must be a function');
    }
    if (!this._listeners.has(event)) {
      this._listeners.set(event, []);
    }
    this._listeners.get(event).push(listener);
    return () => this.off(event, listener);
  }

  /** Remove `listener` from `event`. Returns true if it was registered. */
  off(event, listener) {
    const list = this._listeners.get(event);
    if (!list) return false;
    const index = list.indexOf(listener);
    if (index === -1) return false;
    list.splice(index, 1);
    if (list.length === 0) {
      this._listeners.delete(event);
    }
    return true;
  }

  /** Call the listeners of `event` in the order they were added. Returns true if there were any. */
  emit(event, ...args) {
    const list = this._listeners.get(event);
    if (!list) return false;
    for (let i = 0; i < list.length; i++) {
      list[i].apply(this, args);
    }
    return true;
  }

  listenerCount(event) {
    const list = this._listeners.get(event);
    return list ? list.length : 0;
  }
}

module.exports = { Emitter };
