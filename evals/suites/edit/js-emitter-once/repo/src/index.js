'use strict';
const { Emitter } = require('./emitter');
const { createStore } = require('./store');

module.exports = { Emitter, createStore };
