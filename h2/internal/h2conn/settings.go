package h2conn

import (
	"golang.org/x/net/http2"
)

// queuePreface queues the client connection preface (RFC 9113 3.4), our
// SETTINGS and the WINDOW_UPDATE that raises the connection window from
// 65535 to Config.ConnWindow.
func (c *Conn) queuePreface() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf.b = append(c.wbuf.b, http2.ClientPreface...)
	settings := []http2.Setting{
		{ID: http2.SettingEnablePush, Val: 0},
		{ID: http2.SettingInitialWindowSize, Val: c.cfg.StreamWindow},
		{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize},
	}
	if c.cfg.MaxFrameSize > defaultMaxFrame {
		settings = append(settings, http2.Setting{ID: http2.SettingMaxFrameSize, Val: c.cfg.MaxFrameSize})
	}
	_ = c.wfr.WriteSettings(settings...)
	if inc := c.cfg.ConnWindow - initialWindow; inc > 0 {
		_ = c.wfr.WriteWindowUpdate(0, inc)
	}
}

// onSettings applies the peer's SETTINGS and acknowledges them. The
// settings that shape what we write (frame size, header table size) change
// under wmu together with queueing the ACK, so every header block queued
// before the ACK used the old values and every one after uses the new.
func (c *Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil // our settings take effect as the peer reads them
	}
	if f.HasDuplicates() {
		return connError(http2.ErrCodeProtocol, "duplicate SETTINGS")
	}
	ws := writeSettings{maxFrame: -1, tableSize: -1}
	c.mu.Lock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		return c.applySettingLocked(s, &ws)
	})
	c.mu.Unlock()
	if err != nil {
		return err
	}

	c.ackSettings(ws)

	if !c.gotSettings {
		c.gotSettings = true
		close(c.settingsc)
	}
	return nil
}

// writeSettings are the peer's settings from one SETTINGS frame that
// apply under wmu rather than mu (see onSettings). -1: not in the frame.
type writeSettings struct {
	maxFrame  int   // SETTINGS_MAX_FRAME_SIZE
	tableSize int64 // SETTINGS_HEADER_TABLE_SIZE
}

// applySettingLocked checks the peer's setting s and applies it, except
// those that wait for wmu, which it notes in ws. It returns a connection
// error, after which the connection fails. Called with c.mu held.
func (c *Conn) applySettingLocked(s http2.Setting, ws *writeSettings) error {
	if err := settingError(s); err != nil {
		return err
	}
	switch s.ID {
	case http2.SettingMaxConcurrentStreams:
		c.maxStreams.Store(int64(min(s.Val, uint32(c.cfg.MaxStreams))))
	case http2.SettingInitialWindowSize:
		return c.setPeerWindowLocked(s.Val)
	case http2.SettingMaxFrameSize:
		ws.maxFrame = int(s.Val)
	case http2.SettingHeaderTableSize:
		ws.tableSize = int64(s.Val)
	case http2.SettingMaxHeaderListSize:
		c.peerMaxHeaderList.Store(s.Val)
	case http2.SettingEnablePush:
		if s.Val != 0 {
			// RFC 9113 6.5.2: a server must not send 1.
			return connError(http2.ErrCodeProtocol, "server sent ENABLE_PUSH 1")
		}
	case http2.SettingEnableConnectProtocol:
		return c.setConnectProtocolLocked(s.Val)
	}
	return nil
}

// setConnectProtocolLocked applies the peer's SETTINGS_ENABLE_CONNECT_PROTOCOL
// val, which settingError found to be 0 or 1 (RFC 8441 3). Going back from 1
// to 0 is a connection error (RFC 8441 3). Only the first SETTINGS enables
// extended CONNECT, as in x/net's client: a request made before a later
// SETTINGS arrived would otherwise be refused or not by a race. Called by the
// reader with c.mu held.
func (c *Conn) setConnectProtocolLocked(val uint32) error {
	if c.connectProto && val == 0 {
		return connError(http2.ErrCodeProtocol, "ENABLE_CONNECT_PROTOCOL went from 1 to 0")
	}
	c.connectProto = val == 1
	if !c.gotSettings {
		c.extConnect.Store(c.connectProto)
	}
	return nil
}

// settingError returns the connection error for a value of s outside its
// range, with the code http2 gives it (PROTOCOL_ERROR if none), or nil.
func settingError(s http2.Setting) error {
	if err := s.Valid(); err != nil {
		if ce, ok := err.(http2.ConnectionError); ok {
			return connError(http2.ErrCode(ce), "invalid "+s.ID.String())
		}
		return connError(http2.ErrCodeProtocol, "invalid "+s.ID.String())
	}
	return nil
}

// setPeerWindowLocked applies the peer's SETTINGS_INITIAL_WINDOW_SIZE val
// and wakes the body senders. It returns a connection error when a stream's
// send window would exceed 2^31-1. Called with c.mu held.
func (c *Conn) setPeerWindowLocked(val uint32) error {
	// RFC 9113 6.9.2: the change applies to every open stream's
	// send window, which may go negative.
	delta := int32(val) - c.peerWindow
	c.peerWindow = int32(val)
	for st := range c.streams.all() {
		w := int64(st.sendWindow) + int64(delta)
		if w > maxWindow {
			return connError(http2.ErrCodeFlowControl, "INITIAL_WINDOW_SIZE overflows a stream window")
		}
		st.sendWindow = int32(w)
		st.signalSend()
	}
	return nil
}

// ackSettings applies ws and queues the SETTINGS ACK, both under wmu (see
// onSettings), then wakes the writer. Called without c.mu.
func (c *Conn) ackSettings(ws writeSettings) {
	c.wmu.Lock()
	if ws.maxFrame > 0 {
		c.maxFrame = ws.maxFrame
	}
	if ws.tableSize >= 0 {
		c.enc.setMaxSize(uint32(ws.tableSize))
	}
	_ = c.wfr.WriteSettingsAck()
	c.wmu.Unlock()
	c.wakeWriter()
}
