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
	var (
		maxFrame  = -1
		tableSize = int64(-1)
	)
	c.mu.Lock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			if ce, ok := err.(http2.ConnectionError); ok {
				return connError(http2.ErrCode(ce), "invalid "+s.ID.String())
			}
			return connError(http2.ErrCodeProtocol, "invalid "+s.ID.String())
		}
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxStreams.Store(int64(min(s.Val, uint32(c.cfg.MaxStreams))))
		case http2.SettingInitialWindowSize:
			// RFC 9113 6.9.2: the change applies to every open stream's
			// send window, which may go negative.
			delta := int32(s.Val) - c.peerWindow
			c.peerWindow = int32(s.Val)
			for _, st := range c.streams {
				w := int64(st.sendWindow) + int64(delta)
				if w > maxWindow {
					return connError(http2.ErrCodeFlowControl, "INITIAL_WINDOW_SIZE overflows a stream window")
				}
				st.sendWindow = int32(w)
				st.signalSend()
			}
		case http2.SettingMaxFrameSize:
			maxFrame = int(s.Val)
		case http2.SettingHeaderTableSize:
			tableSize = int64(s.Val)
		case http2.SettingMaxHeaderListSize:
			c.peerMaxHeaderList.Store(s.Val)
		case http2.SettingEnablePush:
			if s.Val != 0 {
				// RFC 9113 6.5.2: a server must not send 1.
				return connError(http2.ErrCodeProtocol, "server sent ENABLE_PUSH 1")
			}
		}
		return nil
	})
	c.mu.Unlock()
	if err != nil {
		return err
	}

	c.wmu.Lock()
	if maxFrame > 0 {
		c.maxFrame = maxFrame
	}
	if tableSize >= 0 {
		c.enc.setMaxSize(uint32(tableSize))
	}
	_ = c.wfr.WriteSettingsAck()
	c.wmu.Unlock()
	c.wakeWriter()

	if !c.gotSettings {
		c.gotSettings = true
		close(c.settingsc)
	}
	return nil
}
