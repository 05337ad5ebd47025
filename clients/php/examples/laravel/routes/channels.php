<?php
// routes/channels.php: who may have a token for which channel.  The
// broadcaster's auth() (POST /broadcasting/auth) asks these callbacks.
use Illuminate\Support\Facades\Broadcast;

// private-orders.{userId}: a user's own orders
Broadcast::channel('orders.{userId}', function ($user, $userId) {
    return (int) $user->id === (int) $userId;
});

// presence-chat.lobby: any logged-in user, with a name for the others
Broadcast::channel('chat.lobby', function ($user) {
    return ['id' => $user->id, 'name' => $user->name];
});
